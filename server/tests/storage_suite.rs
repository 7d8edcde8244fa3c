//! The storage driver suite: the same tests on every backend, memory, local
//! files and S3 (a real `moto_server` on a loopback port; see `s3/mod.rs`).

#[path = "s3/mod.rs"]
mod moto;

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use granary_core::Sha256;
use granary_server::storage::{BlobLayout, Key, PutError, Storage};
use granary_server::{App, Config};
use object_store::path::Path;

/// Runs each listed test once per backend: `mod memory`, `mod local`, `mod s3`.
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Store::start(super::Kind::Memory).await).await })*
        }
        mod local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Store::start(super::Kind::Local).await).await })*
        }
        mod s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Store::start(super::Kind::S3).await).await })*
        }
    };
}

on_every_store!(
    put_stream_exact_stores_exactly_the_expected_bytes,
    put_stream_exact_too_long_leaves_nothing,
    put_stream_exact_too_short_leaves_nothing,
    blob_range_stream_reads_across_parts,
    large_ranges_stream_in_order,
    rename_moves_an_object,
    delete_prefix_deletes_only_under_the_prefix,
    exists_answers_for_present_and_absent_keys,
    store_stream_without_a_digest_stores_what_arrived,
    store_stream_with_the_right_digest_stores_it,
    store_stream_with_a_wrong_digest_leaves_nothing,
    signed_urls_only_where_the_store_can_sign,
);

enum Kind {
    Memory,
    Local,
    S3,
}

/// An app on one backend (SQLite for the rows), and what keeps it alive.
struct Store {
    app: Arc<App>,
    /// The user the staged streams are recorded as sent by.
    uploader: String,
    _dir: tempfile::TempDir,
    _moto: Option<moto::Moto>,
}

impl Store {
    async fn start(kind: Kind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_data_dir(dir.path());
        config.upload_part_size = 64 * 1024;
        let moto = match kind {
            Kind::Memory => {
                config.storage_url = Some("memory://".into());
                None
            }
            Kind::Local => None,
            Kind::S3 => {
                let moto = moto::Moto::start("granary").await;
                config.storage_url = Some("s3://granary/some/prefix".into());
                config.s3 = moto.config();
                Some(moto)
            }
        };
        let app = Arc::new(App::open(config).await.expect("app opens"));
        let uploader = granary_server::db::users::ensure(&app.db, "uploader", false, 0)
            .await
            .unwrap()
            .id;
        Self {
            app,
            uploader,
            _dir: dir,
            _moto: moto,
        }
    }

    fn storage(&self) -> &Storage {
        &self.app.storage
    }

    async fn read(&self, key: &Path) -> Vec<u8> {
        self.storage()
            .inner()
            .get(key)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec()
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .storage()
            .inner()
            .list(Some(&Path::from(prefix)))
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await;
        keys.sort();
        keys
    }
}

/// Deterministic bytes that differ at every offset that matters.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / 251) as u8).wrapping_add(seed))
        .collect()
}

/// `bytes` as a stream of `chunk`-sized pieces.
fn chunks(
    bytes: &[u8],
    chunk: usize,
) -> futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>> {
    let pieces: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(pieces).boxed()
}

const MIB: usize = 1024 * 1024;

async fn put_stream_exact_stores_exactly_the_expected_bytes(s: Store) {
    // 20 MiB: five multipart chunks of up to 5 MiB (S3 needs parts of at least 5 MiB).
    let bytes = pattern(20 * MIB + 17, 1);
    let key = Path::from("uploads/exact/0");
    s.storage()
        .put_stream_exact(&key, bytes.len() as u64, chunks(&bytes, MIB))
        .await
        .unwrap();
    assert!(s.read(&key).await == bytes);
    // Small and empty bodies too.
    let small = Path::from("uploads/exact/1");
    s.storage()
        .put_stream_exact(&small, 3, chunks(b"abc", 1))
        .await
        .unwrap();
    assert_eq!(s.read(&small).await, b"abc");
    let empty = Path::from("uploads/exact/2");
    s.storage()
        .put_stream_exact(&empty, 0, chunks(b"", 1))
        .await
        .unwrap();
    assert!(s.read(&empty).await.is_empty());
}

async fn put_stream_exact_too_long_leaves_nothing(s: Store) {
    let bytes = pattern(9 * MIB, 2);
    let key = Path::from("uploads/long/0");
    let err = s
        .storage()
        .put_stream_exact(&key, (9 * MIB - 1) as u64, chunks(&bytes, MIB))
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::TooLong { .. }), "{err}");
    assert!(!s.storage().exists(&key).await.unwrap());
    assert!(s.keys("uploads").await.is_empty());
}

async fn put_stream_exact_too_short_leaves_nothing(s: Store) {
    let bytes = pattern(9 * MIB, 3);
    let key = Path::from("uploads/short/0");
    let err = s
        .storage()
        .put_stream_exact(&key, (9 * MIB + 1) as u64, chunks(&bytes, MIB))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PutError::TooShort { received, .. } if received == (9 * MIB) as u64),
        "{err}"
    );
    assert!(!s.storage().exists(&key).await.unwrap());
    // A body that fails mid-way leaves nothing either.
    let failing = futures::stream::iter(vec![
        Ok(Bytes::from(vec![1u8; 1000])),
        Err(std::io::Error::other("connection reset")),
    ])
    .boxed();
    let err = s
        .storage()
        .put_stream_exact(&key, 5000, failing)
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::Body(_)), "{err}");
    assert!(s.keys("uploads").await.is_empty());
}

async fn blob_range_stream_reads_across_parts(s: Store) {
    let bytes = pattern(10_000, 4);
    let layout = BlobLayout {
        sha256: Sha256::of(&bytes),
        size: bytes.len() as u64,
        part_size: 4096,
        part_count: BlobLayout::part_count(bytes.len() as u64, 4096),
    };
    assert_eq!(layout.part_count, 3);
    for n in 0..layout.part_count {
        let r = layout.part_range(n);
        let part = Bytes::copy_from_slice(&bytes[r.start as usize..r.end as usize]);
        s.storage()
            .inner()
            .put(&Key::BlobPart(&layout, n).path(), part.into())
            .await
            .unwrap();
    }
    for (a, b) in [
        (0, 10_000),
        (0, 1),
        (4095, 4097),
        (100, 9000),
        (8191, 8193),
        (9999, 10_000),
        (5000, 5000),
    ] {
        let mut got = Vec::new();
        let mut stream = s.storage().blob_range_stream(layout, a..b);
        while let Some(chunk) = stream.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert!(got == bytes[a as usize..b as usize], "range {a}..{b}");
    }
    let read = s
        .storage()
        .read_blob_range(layout, 4000..4200)
        .await
        .unwrap();
    assert!(read == bytes[4000..4200]);
    // A blob in one part lives at the plain key.
    let one = BlobLayout {
        part_size: 1 << 20,
        part_count: 1,
        ..layout
    };
    assert_eq!(
        Key::BlobPart(&one, 0).path().as_ref(),
        format!(
            "blobs/sha256/{}/{}",
            &layout.sha256.hex()[..2],
            layout.sha256.hex()
        )
    );
}

/// Ranges of an object larger than one read block (the local store streams files
/// in blocks of 1 MiB, read ahead on a blocking thread).
async fn large_ranges_stream_in_order(s: Store) {
    let bytes = pattern(3 * MIB + MIB / 2 + 3, 9);
    let key = Path::from("blobs/sha256/00/large");
    s.storage()
        .inner()
        .put(&key, Bytes::copy_from_slice(&bytes).into())
        .await
        .unwrap();
    let len = bytes.len() as u64;
    let mib = MIB as u64;
    for (a, b) in [
        (0, len),
        (mib - 1, 2 * mib + 1),
        (len - 1, len),
        (3 * mib, len),
        (1, mib),
    ] {
        let mut got = Vec::new();
        let mut stream = s.storage().get_range_stream(&key, a..b).await.unwrap();
        while let Some(chunk) = stream.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(got.len() as u64, b - a, "range {a}..{b}");
        assert!(got == bytes[a as usize..b as usize], "range {a}..{b}");
    }
    // A consumer that stops early (a client hanging up) leaves nothing stuck.
    let mut stream = s.storage().get_range_stream(&key, 0..len).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    assert_eq!(s.read(&key).await.len(), bytes.len());
}

async fn rename_moves_an_object(s: Store) {
    let from = Path::from("uploads/r/0");
    let to = Path::from("blobs/sha256/ab/renamed");
    s.storage()
        .inner()
        .put(&from, Bytes::from_static(b"moved bytes").into())
        .await
        .unwrap();
    s.storage().rename(&from, &to).await.unwrap();
    assert!(!s.storage().exists(&from).await.unwrap());
    assert_eq!(s.read(&to).await, b"moved bytes");
    // Renaming onto an existing key with the same bytes (content-addressed) is fine.
    s.storage()
        .inner()
        .put(&from, Bytes::from_static(b"moved bytes").into())
        .await
        .unwrap();
    s.storage().rename(&from, &to).await.unwrap();
    assert_eq!(s.read(&to).await, b"moved bytes");
}

async fn delete_prefix_deletes_only_under_the_prefix(s: Store) {
    for key in [
        "uploads/x/0",
        "uploads/x/1",
        "uploads/x/2",
        "uploads/xy/0",
        "uploads/y/0",
    ] {
        s.storage()
            .inner()
            .put(&Path::from(key), Bytes::from_static(b"1").into())
            .await
            .unwrap();
    }
    s.storage()
        .delete_prefix(&Key::UploadDir("x").path())
        .await
        .unwrap();
    assert_eq!(
        s.keys("uploads").await,
        vec!["uploads/xy/0".to_string(), "uploads/y/0".to_string()]
    );
    // An empty prefix is no error.
    s.storage()
        .delete_prefix(&Key::UploadDir("nothing").path())
        .await
        .unwrap();
}

async fn exists_answers_for_present_and_absent_keys(s: Store) {
    let key = Path::from("uploads/e/0");
    assert!(!s.storage().exists(&key).await.unwrap());
    s.storage()
        .inner()
        .put(&key, Bytes::from_static(b"x").into())
        .await
        .unwrap();
    assert!(s.storage().exists(&key).await.unwrap());
    s.storage().delete_quietly(&key).await;
    assert!(!s.storage().exists(&key).await.unwrap());
    // Deleting what is absent is quiet.
    s.storage().delete_quietly(&key).await;
}

async fn store_stream_without_a_digest_stores_what_arrived(s: Store) {
    let bytes = pattern(200_000, 5);
    let layout =
        granary_server::ingest::store_stream(&s.app, &s.uploader, chunks(&bytes, 7_000), None)
            .await
            .unwrap();
    assert_eq!(layout.sha256, Sha256::of(&bytes));
    assert_eq!(layout.size, bytes.len() as u64);
    assert_eq!(layout.part_count, 4, "parts of 64 KiB");
    assert!(
        s.storage()
            .read_blob_range(layout, 0..layout.size)
            .await
            .unwrap()
            == bytes
    );
    assert_eq!(
        granary_server::db::blobs::find(&s.app.db, &layout.sha256)
            .await
            .unwrap(),
        Some(layout)
    );
    assert!(s.keys("uploads").await.is_empty(), "staging is cleaned up");
    let sent =
        granary_server::db::blob_uploaders::uploaded_by(&s.app.db, &s.uploader, &[layout.sha256])
            .await
            .unwrap();
    assert!(
        sent.contains(&layout.sha256),
        "the sender is recorded as an uploader"
    );
    // The same bytes again: the live blob, nothing new.
    let again =
        granary_server::ingest::store_stream(&s.app, &s.uploader, chunks(&bytes, 50_000), None)
            .await
            .unwrap();
    assert_eq!(again, layout);
    assert_eq!(s.keys("blobs").await.len(), 4);
    // An empty blob is one empty part.
    let empty = granary_server::ingest::store_stream(&s.app, &s.uploader, chunks(b"", 1), None)
        .await
        .unwrap();
    assert_eq!((empty.size, empty.part_count), (0, 1));
}

async fn store_stream_with_the_right_digest_stores_it(s: Store) {
    let bytes = pattern(70_000, 6);
    let expected = (Sha256::of(&bytes), bytes.len() as u64);
    let layout = granary_server::ingest::store_stream(
        &s.app,
        &s.uploader,
        chunks(&bytes, 10_000),
        Some(expected),
    )
    .await
    .unwrap();
    assert_eq!(
        (layout.sha256, layout.size, layout.part_count),
        (expected.0, expected.1, 2)
    );
    assert!(
        s.storage()
            .read_blob_range(layout, 0..layout.size)
            .await
            .unwrap()
            == bytes
    );
    assert!(s.keys("uploads").await.is_empty());
}

async fn store_stream_with_a_wrong_digest_leaves_nothing(s: Store) {
    let bytes = pattern(70_000, 7);
    let wrong = (Sha256::of(b"something else"), bytes.len() as u64);
    let err = granary_server::ingest::store_stream(
        &s.app,
        &s.uploader,
        chunks(&bytes, 10_000),
        Some(wrong),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("declared"), "{err}");
    let short = (Sha256::of(&bytes), bytes.len() as u64 + 1);
    granary_server::ingest::store_stream(&s.app, &s.uploader, chunks(&bytes, 10_000), Some(short))
        .await
        .unwrap_err();
    assert!(s.keys("uploads").await.is_empty());
    assert!(s.keys("blobs").await.is_empty());
    assert_eq!(
        granary_server::db::blobs::find(&s.app.db, &Sha256::of(&bytes))
            .await
            .unwrap(),
        None
    );
    let sent = granary_server::db::blob_uploaders::uploaded_by(
        &s.app.db,
        &s.uploader,
        &[Sha256::of(&bytes)],
    )
    .await
    .unwrap();
    assert!(sent.is_empty(), "refused bytes grant nothing");
}

async fn signed_urls_only_where_the_store_can_sign(s: Store) {
    let key = Path::from("blobs/sha256/aa/signed");
    s.storage()
        .inner()
        .put(&key, Bytes::from_static(b"presigned bytes").into())
        .await
        .unwrap();
    let ttl = std::time::Duration::from_secs(60);
    match s.storage().signed_get_url(&key, ttl).await {
        None => assert!(!s.storage().can_sign()),
        Some(url) => {
            let url = url.unwrap();
            assert!(
                url.path()
                    .ends_with("/granary/some/prefix/blobs/sha256/aa/signed"),
                "{url}"
            );
            let client = reqwest::Client::new();
            let res = client.get(url.as_str()).send().await.unwrap();
            assert_eq!(res.status(), 200);
            assert_eq!(res.bytes().await.unwrap().as_ref(), b"presigned bytes");
            // The store honours Range on a presigned GET.
            let res = client
                .get(url.as_str())
                .header("range", "bytes=10-")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 206);
            assert_eq!(res.bytes().await.unwrap().as_ref(), b"bytes");
        }
    }
}
