//! Xorbs and shards built with the reference crate, and the calls a client makes.

use granary_core::Sha256;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use xet_core_structures::merklehash::{
    DataHash, MerkleHash, compute_data_hash, file_hash, xorb_hash,
};
use xet_core_structures::metadata_shard::MDBShardFileHeader;
use xet_core_structures::metadata_shard::chunk_verification::range_hash_from_chunks;
use xet_core_structures::metadata_shard::file_structs::{
    FileDataSequenceEntry, FileDataSequenceHeader, FileMetadataExt, FileVerificationEntry,
};
use xet_core_structures::metadata_shard::xorb_structs::XorbChunkSequenceHeader;
use xet_core_structures::xorb_object::{CompressionScheme, serialize_chunk};

use super::common::{README, TestApp};

/// A file cut into fixed-size chunks, all in one xorb.
pub struct Upload {
    pub data: Vec<u8>,
    pub xorb: Vec<u8>,
    pub xorb_hash: MerkleHash,
    pub chunk_hashes: Vec<MerkleHash>,
    pub file_hash: MerkleHash,
    pub sha256: Sha256,
}

impl Upload {
    pub fn new(data: Vec<u8>, chunk: usize) -> Self {
        let mut xorb = Vec::new();
        let mut hashes = Vec::new();
        for (i, piece) in data.chunks(chunk).enumerate() {
            // Alternate the schemes the clients use.
            let scheme = [
                CompressionScheme::LZ4,
                CompressionScheme::ByteGrouping4LZ4,
                CompressionScheme::None,
            ][i % 3];
            serialize_chunk(piece, &mut xorb, scheme).unwrap();
            hashes.push((compute_data_hash(piece), piece.len() as u64));
        }
        Upload {
            sha256: Sha256::of(&data),
            xorb_hash: xorb_hash(&hashes),
            file_hash: file_hash(&hashes),
            chunk_hashes: hashes.iter().map(|(h, _)| *h).collect(),
            xorb,
            data,
        }
    }

    /// The shard of this file, with the verification hash, file hash and SHA-256 given.
    pub fn shard_with(
        &self,
        verification: MerkleHash,
        file: MerkleHash,
        sha256: &Sha256,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        MDBShardFileHeader::default().serialize(&mut out).unwrap();
        FileDataSequenceHeader::new(file, 1, true, true)
            .serialize(&mut out)
            .unwrap();
        FileDataSequenceEntry::new(self.xorb_hash, self.data.len(), 0, self.chunk_hashes.len())
            .serialize(&mut out)
            .unwrap();
        FileVerificationEntry::new(verification)
            .serialize(&mut out)
            .unwrap();
        FileMetadataExt::new(DataHash::from_hex(&sha256.hex()).unwrap())
            .serialize(&mut out)
            .unwrap();
        FileDataSequenceHeader::bookend()
            .serialize(&mut out)
            .unwrap();
        XorbChunkSequenceHeader::bookend()
            .serialize(&mut out)
            .unwrap();
        out
    }

    pub fn shard(&self) -> Vec<u8> {
        self.shard_with(
            range_hash_from_chunks(&self.chunk_hashes),
            self.file_hash,
            &self.sha256,
        )
    }
}

/// Bytes that compress somewhat, like weights: a slow ramp with noise.
pub fn weights(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((i / 64) as u8).wrapping_add((x >> 60) as u8)
        })
        .collect()
}

/// `GET /api/models/{model}/xet-{kind}-token/{rev}`.
pub async fn token_response(
    t: &TestApp,
    token: Option<&str>,
    model: &str,
    kind: &str,
    rev: &str,
) -> Response {
    let mut req = t.client.get(format!(
        "{}/api/models/{model}/xet-{kind}-token/{rev}",
        t.url
    ));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// A CAS token of `kind` (`read` or `write`), which must be granted.
pub async fn cas_token(
    t: &TestApp,
    token: Option<&str>,
    model: &str,
    kind: &str,
    rev: &str,
) -> String {
    let res = token_response(t, token, model, kind, rev).await;
    assert_eq!(res.status(), StatusCode::OK, "{kind} token for {model}");
    let headers = res.headers().clone();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["casUrl"], format!("{}/xet", t.url));
    assert_eq!(
        headers["x-xet-access-token"].to_str().unwrap(),
        v["accessToken"]
    );
    assert_eq!(headers["x-xet-cas-url"].to_str().unwrap(), v["casUrl"]);
    v["accessToken"].as_str().unwrap().to_string()
}

pub async fn post_xorb(t: &TestApp, cas: &str, hash: &str, body: &[u8]) -> Response {
    t.client
        .post(format!("{}/xet/v1/xorbs/default/{hash}", t.url))
        .bearer_auth(cas)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

pub async fn post_shard(t: &TestApp, cas: &str, body: &[u8]) -> Response {
    t.client
        .post(format!("{}/xet/v1/shards", t.url))
        .bearer_auth(cas)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

/// Sends the xorb and the shard of `up`; both must be accepted.
pub async fn send(t: &TestApp, cas: &str, up: &Upload) {
    let res = post_xorb(t, cas, &up.xorb_hash.hex(), &up.xorb).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let res = post_shard(t, cas, &up.shard()).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

/// A Hub commit of `path` naming `up` by SHA-256, as huggingface_hub sends it after Xet.
pub async fn commit(t: &TestApp, token: &str, model: &str, path: &str, up: &Upload) -> Response {
    t.hub_commit(
        token,
        model,
        &[
            json!({"key": "header", "value": {"summary": "weights over Xet"}}),
            json!({"key": "lfsFile", "value": {"path": path, "algo": "sha256",
                "oid": up.sha256.hex(), "size": up.data.len()}}),
        ],
    )
    .await
}

pub async fn reconstruction(
    t: &TestApp,
    cas: &str,
    version: u8,
    file: &str,
    range: Option<&str>,
) -> Response {
    let mut req = t
        .client
        .get(format!("{}/xet/v{version}/reconstructions/{file}", t.url))
        .bearer_auth(cas);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().await.unwrap()
}

/// Rebuilds the bytes a v2 reconstruction describes, fetching each xorb range as the
/// client does (no credentials, the URL's range), and trimming to `len` bytes.
pub async fn rebuild_v2(t: &TestApp, answer: &Value, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut used: std::collections::HashMap<String, usize> = Default::default();
    for term in answer["terms"].as_array().unwrap() {
        let hash = term["hash"].as_str().unwrap();
        let n = used.entry(hash.to_string()).or_default();
        let fetch = &answer["xorbs"][hash][*n];
        *n += 1;
        let bytes = &fetch["ranges"][0]["bytes"];
        let res = t
            .client
            .get(fetch["url"].as_str().unwrap())
            .header(
                "range",
                format!("bytes={}-{}", bytes["start"], bytes["end"]),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
        let raw = res.bytes().await.unwrap();
        let (data, _) =
            xet_core_structures::xorb_object::deserialize_chunks(&mut &raw[..]).unwrap();
        assert_eq!(data.len() as u64, term["unpacked_length"].as_u64().unwrap());
        out.extend_from_slice(&data);
    }
    let skip = answer["offset_into_first_range"].as_u64().unwrap() as usize;
    out.drain(..skip);
    out.truncate(len);
    out
}

/// Alice with a model `alice/x` (a README on `main`), and a CAS write token for it.
pub async fn alice_with_model(t: &TestApp) -> (String, String) {
    let alice = t.user("alice").await;
    t.push_ok(
        &alice,
        "alice/x",
        &[("README.md", README.as_bytes().to_vec())],
        None,
    )
    .await;
    let cas = cas_token(t, Some(&alice), "alice/x", "write", "main").await;
    (alice, cas)
}
