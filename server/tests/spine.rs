//! The registry spine end to end over HTTP, on SQLite and on PostgreSQL:
//! push, pull, dedup, resume, digest checks, compare-and-swap, validation,
//! Range and HEAD, listings.

mod common;

use common::{Backend, README, TestApp, commit_file, model_files, shard};
use granary_core::Sha256;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    push_then_pull_is_byte_identical,
    second_push_uploads_nothing,
    interrupted_upload_resumes,
    wrong_digest_is_refused_and_invisible,
    moved_branch_is_a_conflict_and_loses_nothing,
    bad_paths_are_refused,
    licenses_are_checked,
    pickles_and_broken_safetensors_are_refused,
    range_and_head,
    listing_paginates_and_filters,
    tokens_and_owners_are_enforced,
    tags_do_not_move_silently,
);

async fn push_then_pull_is_byte_identical(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let files = model_files();
    let rev = t.push_ok(&token, "alice/tiny", &files, None).await;

    for (path, bytes) in &files {
        let res = t.download("alice/tiny", "main", path).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["etag"], format!("\"{}\"", Sha256::of(bytes)));
        assert_eq!(res.headers()["x-granary-revision"], rev.as_str());
        assert_eq!(
            &res.bytes().await.unwrap()[..],
            &bytes[..],
            "{path} differs"
        );
    }
    // By full id and by a 12-character prefix too.
    for r in [rev.as_str(), &rev[..12]] {
        let res = t.download("alice/tiny", r, "config.json").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(&res.bytes().await.unwrap()[..], &files[3].1[..]);
    }

    // The manifest hashes to the revision id.
    let manifest = t
        .get(&format!("/models/alice/tiny/manifest/{rev}"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(Sha256::of(&manifest).hex(), rev);

    let info: Value = t.get("/models/alice/tiny").await.json().await.unwrap();
    let r = &info["revision"];
    assert_eq!(r["id"], rev.as_str());
    assert_eq!(r["license"]["id"], "Apache-2.0");
    assert_eq!(r["permissive"], true);
    assert_eq!(r["card"]["pipeline_tag"], "text-generation");
    let expected_params = 3 * (2 * 1024 * 1024 / 4);
    assert_eq!(r["parameter_total"], expected_params);
    assert_eq!(r["parameters"]["F32"], expected_params);
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(r["total_size"], total);
    let shard_info = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == files[0].0)
        .unwrap();
    assert_eq!(shard_info["safetensors"]["tensors"], 2);

    // Blobs of several parts are stored as parts; small ones whole.
    let keys = t.object_keys().await;
    let shard_hex = Sha256::of(&files[0].1).hex();
    assert!(
        keys.iter().any(|k| k.starts_with(&format!(
            "blobs/sha256/{}/{shard_hex}.parts/",
            &shard_hex[..2]
        ))),
        "{keys:?}"
    );
    assert!(
        !keys.iter().any(|k| k.starts_with("uploads/")),
        "staging left behind: {keys:?}"
    );
}

async fn second_push_uploads_nothing(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let files = model_files();
    let first = t.push_ok(&token, "alice/one", &files, None).await;
    let before = t.stats().await["blob_bytes_received"].as_u64().unwrap();
    let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    assert!(before >= total);

    let blobs: Vec<Value> = files
        .iter()
        .map(|(_, b)| json!({"sha256": Sha256::of(b), "size": b.len()}))
        .collect();
    let missing: Value = t
        .post_json(&token, "/blobs/missing", &json!({"blobs": blobs}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(missing["missing"], json!([]));

    // Same files again, onto the same model and into another model: no blob bytes move.
    t.push_ok(&token, "alice/one", &files, Some(&first)).await;
    let bob = t.user("bob").await;
    t.push_ok(&bob, "bob/copy", &files, None).await;
    let after = t.stats().await["blob_bytes_received"].as_u64().unwrap();
    assert_eq!(after, before, "a second push must upload 0 blob bytes");
}

async fn interrupted_upload_resumes(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let bytes = shard(3, 7);
    let status = t.start_upload(&token, &bytes).await;
    assert!(status.part_count >= 3);
    assert_eq!(
        t.put_part(&token, &status, &bytes, 0).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        t.put_part(&token, &status, &bytes, 2).await.status(),
        StatusCode::OK
    );

    // A part cut short is refused and not recorded.
    let (a, b) = status.part_range(1);
    let res = t
        .client
        .put(t.api(&format!("/uploads/{}/parts/1", status.id.as_ref().unwrap())))
        .bearer_auth(&token)
        .body(bytes[a as usize..(b - 10) as usize].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"].as_str().unwrap().contains("ended after"),
        "{err}"
    );

    // Completing early names the missing parts.
    let res = t.complete(&token, &status).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("lacks parts [1"));

    // A client that died asks again and gets the same session with what it holds.
    let again = t.start_upload(&token, &bytes).await;
    assert_eq!(again.id, status.id);
    assert_eq!(again.received, vec![0, 2]);
    let received_before = t.stats().await["blob_bytes_received"].as_u64().unwrap();
    for n in again.missing_parts() {
        assert_eq!(
            t.put_part(&token, &again, &bytes, n).await.status(),
            StatusCode::OK
        );
    }
    let res = t.complete(&token, &again).await;
    assert_eq!(res.status(), StatusCode::OK);
    let sent = t.stats().await["blob_bytes_received"].as_u64().unwrap() - received_before;
    assert!(sent < bytes.len() as u64 / 2, "resume re-sent {sent} bytes");

    let files = vec![
        ("w.safetensors", bytes.clone()),
        ("README.md", README.as_bytes().to_vec()),
    ];
    t.push_ok(&token, "alice/resumed", &files, None).await;
    let got = t
        .download("alice/resumed", "main", "w.safetensors")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &bytes[..]);
}

async fn wrong_digest_is_refused_and_invisible(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let claimed = shard(2, 1);
    let mut actual = claimed.clone();
    let last = actual.len() - 1;
    actual[last] ^= 0xff;
    let status = t.start_upload(&token, &claimed).await;
    for n in status.missing_parts() {
        assert_eq!(
            t.put_part(&token, &status, &actual, n).await.status(),
            StatusCode::OK
        );
    }
    let res = t.complete(&token, &status).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "digest_mismatch");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("nothing was stored")
    );

    let missing: Value = t
        .post_json(
            &token,
            "/blobs/missing",
            &json!({"blobs": [{"sha256": Sha256::of(&claimed), "size": claimed.len()}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(missing["missing"].as_array().unwrap().len(), 1);
    assert!(
        t.object_keys().await.is_empty(),
        "staged bytes must be discarded"
    );

    let body = json!({"parent": null, "license": "mit", "files": [commit_file("w.safetensors", &claimed)]});
    let res = t
        .post_json(&token, "/models/alice/bad/commits", &body)
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("is not stored"));
    assert_eq!(
        t.get("/models/alice/bad").await.status(),
        StatusCode::NOT_FOUND
    );
}

async fn moved_branch_is_a_conflict_and_loses_nothing(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let v1 = vec![
        ("README.md", README.as_bytes().to_vec()),
        ("a.txt", b"one".to_vec()),
    ];
    let v2 = vec![
        ("README.md", README.as_bytes().to_vec()),
        ("a.txt", b"two".to_vec()),
    ];
    let v3 = vec![
        ("README.md", README.as_bytes().to_vec()),
        ("a.txt", b"three".to_vec()),
    ];
    let a = t.push_ok(&token, "alice/cas", &v1, None).await;

    let res = t.push(&token, "alice/cas", &v2, None, json!({})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "conflict");
    assert!(
        err["error"].as_str().unwrap().contains("has moved"),
        "{err}"
    );

    let b = t.push_ok(&token, "alice/cas", &v2, Some(&a)).await;
    let res = t.push(&token, "alice/cas", &v3, Some(&a), json!({})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    let log: Value = t
        .get("/models/alice/cas/log/main")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![b.as_str(), a.as_str()]);
    let refs: Value = t.get("/models/alice/cas/refs").await.json().await.unwrap();
    assert_eq!(refs["branches"][0]["revision"], b.as_str());
    let got = t
        .download("alice/cas", &a, "a.txt")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"one");

    // Another branch starts from nothing and leaves main alone.
    let res = t
        .push(&token, "alice/cas", &v3, None, json!({"branch": "dev"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let got = t
        .download("alice/cas", "dev", "a.txt")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"three");
    let got = t
        .download("alice/cas", "main", "a.txt")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"two");
}

async fn bad_paths_are_refused(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let blob = b"x".to_vec();
    t.upload(&token, &blob).await;
    t.upload(&token, README.as_bytes()).await;
    let readme = commit_file("README.md", README.as_bytes());
    let entry = |p: &str| json!({"path": p, "size": 1, "sha256": Sha256::of(&blob)});
    let cases: Vec<(Vec<Value>, &str)> = vec![
        (vec![entry("../escape")], "`.` or `..`"),
        (vec![entry("a/../../b")], "`.` or `..`"),
        (vec![entry("/etc/passwd")], "absolute"),
        (vec![entry("C:/x")], "drive"),
        (vec![entry("a\\b")], "backslash"),
        (vec![entry("a\u{0}b")], "control"),
        (vec![entry("a\u{1b}b")], "control"),
        (vec![entry("a//b")], "empty segment"),
        (vec![entry("")], "empty"),
        (vec![entry(&"a".repeat(2000))], "longer than"),
        (vec![entry(&vec!["d"; 40].join("/"))], "deeper than"),
        (
            vec![entry("Weights.txt"), entry("weights.TXT")],
            "differ only in case",
        ),
        (vec![entry("dup"), entry("dup")], "twice"),
        (
            vec![entry("a"), entry("a/b")],
            "both a file and a directory",
        ),
    ];
    for (files, why) in cases {
        let mut all = files.clone();
        all.push(serde_json::to_value(&readme).unwrap());
        let res = t
            .post_json(
                &token,
                "/models/alice/paths/commits",
                &json!({"parent": null, "files": all}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{files:?}");
        let text = res.text().await.unwrap();
        assert!(text.contains(why), "{files:?}: expected `{why}` in {text}");
    }
    assert_eq!(
        t.get("/models/alice/paths").await.status(),
        StatusCode::NOT_FOUND
    );
    // Bad model names are refused too.
    for name in ["alice/..", "alice/a..b", "api/x", "alice/-x"] {
        let res = t
            .post_json(
                &token,
                &format!("/models/{name}/commits"),
                &json!({"parent": null, "files": []}),
            )
            .await;
        assert!(res.status().is_client_error(), "{name}");
    }
}

async fn licenses_are_checked(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let plain = vec![
        ("README.md", b"# No front matter\n".to_vec()),
        ("a.txt", b"a".to_vec()),
    ];
    let res = t.push(&token, "alice/lic", &plain, None, json!({})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("no license"));

    let res = t
        .push(
            &token,
            "alice/lic",
            &plain,
            None,
            json!({"license": "free-for-all"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("unknown license `free-for-all`") && text.contains("llama3"),
        "{text}"
    );

    let res = t
        .push(
            &token,
            "alice/lic",
            &plain,
            None,
            json!({"license": "other"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("license_name"));

    let bad_yaml = vec![("README.md", b"---\nlicense: [mit\n---\n".to_vec())];
    let res = t
        .push(&token, "alice/lic", &bad_yaml, None, json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("not valid YAML"));
    assert_eq!(
        t.get("/models/alice/lic").await.status(),
        StatusCode::NOT_FOUND
    );

    let res = t
        .push(&token, "alice/lic", &plain, None, json!({"license": "MIT"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["license"]["id"], "MIT");
    let other = json!({"license": "other", "license_name": "Acme License"});
    let res = t
        .push(&token, "alice/lic2", &plain, None, other.clone())
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("LICENSE file"));
    let mut with_text = plain.clone();
    with_text.push(("LICENSE", b"Acme License: use freely.".to_vec()));
    let res = t.push(&token, "alice/lic2", &with_text, None, other).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["license"], json!({"id": "other", "name": "Acme License"}));
    assert_eq!(v["permissive"], false);
    let card = vec![("README.md", b"---\nlicense: llama3\n---\n".to_vec())];
    let v: Value = t
        .push(&token, "alice/lic3", &card, None, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["license"]["id"], "llama3");
}

async fn pickles_and_broken_safetensors_are_refused(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let readme = ("README.md", README.as_bytes().to_vec());
    let pickle = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.".to_vec();
    for path in ["pytorch_model.bin", "model.pt", "weights.dat"] {
        let res = t
            .push(
                &token,
                "alice/pk",
                &[readme.clone(), (path, pickle.clone())],
                None,
                json!({}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        let text = res.text().await.unwrap();
        assert!(
            text.contains("pickle") && text.contains("safetensors"),
            "{text}"
        );
    }
    let zip = common::stored_zip(&[("archive/data.pkl", b"\x80\x02}q\x00.")]);
    let res = t
        .push(
            &token,
            "alice/pk",
            &[readme.clone(), ("model.pth", zip)],
            None,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let mut truncated = shard(1, 1);
    truncated.truncate(truncated.len() - 100);
    let res = t
        .push(
            &token,
            "alice/pk",
            &[readme.clone(), ("m.safetensors", truncated)],
            None,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("truncated"));
    let mut huge_header = shard(1, 2);
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let res = t
        .push(
            &token,
            "alice/pk",
            &[readme.clone(), ("m.safetensors", huge_header)],
            None,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("limit"));
    assert_eq!(
        t.get("/models/alice/pk").await.status(),
        StatusCode::NOT_FOUND
    );

    // A plain binary that is not a pickle is fine under the same name.
    let res = t
        .push(
            &token,
            "alice/pk",
            &[readme, ("model.bin", b"GGUF\x03rest".to_vec())],
            None,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn range_and_head(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let big = shard(3, 5); // several 1 MiB parts
    let files = vec![
        ("README.md", README.as_bytes().to_vec()),
        ("w.safetensors", big.clone()),
        ("empty.txt", vec![]),
    ];
    t.push_ok(&token, "alice/ranges", &files, None).await;
    let url = t.api("/models/alice/ranges/files/main/w.safetensors");
    let size = big.len();
    let get = |range: String| t.client.get(&url).header("range", range).send();

    // Across a part boundary.
    let (a, b) = (1024 * 1024 - 10, 1024 * 1024 + 10);
    let res = get(format!("bytes={a}-{b}")).await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes {a}-{b}/{size}").as_str()
    );
    assert_eq!(res.headers()["content-length"], "21");
    assert_eq!(&res.bytes().await.unwrap()[..], &big[a..=b]);

    // hf-hub's probe and its past-the-end last chunk.
    let res = get("bytes=0-0".into()).await.unwrap();
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 0-0/{size}").as_str()
    );
    assert_eq!(&res.bytes().await.unwrap()[..], &big[..1]);
    let res = get(format!("bytes={}-{}", size - 5, size + 100))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&res.bytes().await.unwrap()[..], &big[size - 5..]);
    let res = get("bytes=-7".into()).await.unwrap();
    assert_eq!(&res.bytes().await.unwrap()[..], &big[size - 7..]);
    let res = get(format!("bytes={size}-")).await.unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );

    let res = t.client.head(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], size.to_string().as_str());
    assert_eq!(res.headers()["accept-ranges"], "bytes");
    assert_eq!(
        res.headers()["etag"],
        format!("\"{}\"", Sha256::of(&big)).as_str()
    );
    assert!(res.bytes().await.unwrap().is_empty());

    let res = t
        .client
        .get(t.api("/models/alice/ranges/files/main/empty.txt"))
        .header("range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-range"], "bytes */0");
    assert!(res.bytes().await.unwrap().is_empty());

    let res = t.download("alice/ranges", "main", "nope.txt").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "not_found");
    assert_eq!(
        t.download("alice/ranges", "no-such-branch", "w.safetensors")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

async fn listing_paginates_and_filters(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let files = vec![("README.md", README.as_bytes().to_vec())];
    for name in ["m1", "m2", "m3", "llama-small", "llama_big"] {
        t.push_ok(&alice, &format!("alice/{name}"), &files, None)
            .await;
    }
    let mit = t
        .push(
            &bob,
            "bob/mit-model",
            &files,
            None,
            json!({"license": "mit"}),
        )
        .await;
    assert_eq!(mit.status(), StatusCode::CREATED);

    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page: Value = t
            .get(&format!("/models?limit=2&cursor={cursor}"))
            .await
            .json()
            .await
            .unwrap();
        pages += 1;
        for m in page["models"].as_array().unwrap() {
            seen.push(m["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        vec![
            "alice/llama-small",
            "alice/llama_big",
            "alice/m1",
            "alice/m2",
            "alice/m3",
            "bob/mit-model"
        ]
    );

    let ids = |v: Value| -> Vec<String> {
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(t.get("/models?owner=bob").await.json().await.unwrap()),
        vec!["bob/mit-model"]
    );
    assert_eq!(
        ids(t.get("/models?license=MIT").await.json().await.unwrap()),
        vec!["bob/mit-model"]
    );
    assert_eq!(
        ids(t.get("/models?q=LLAMA").await.json().await.unwrap()),
        vec!["alice/llama-small", "alice/llama_big"]
    );
    // `_` and `%` are literal, not wildcards.
    assert_eq!(
        ids(t.get("/models?q=llama_").await.json().await.unwrap()),
        vec!["alice/llama_big"]
    );
    assert!(ids(t.get("/models?q=%25").await.json().await.unwrap()).is_empty());
    assert!(ids(t.get("/models?q=%27%22").await.json().await.unwrap()).is_empty());
}

async fn tokens_and_owners_are_enforced(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let files = vec![("README.md", README.as_bytes().to_vec())];
    t.upload(&alice, README.as_bytes()).await;
    let body = json!({"parent": null, "files": [commit_file("README.md", README.as_bytes())]});

    let res = t
        .client
        .post(t.api("/models/alice/x/commits"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = t
        .post_json("gr_not-a-real-token", "/models/alice/x/commits", &body)
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("invalid, expired or revoked")
    );
    let res = t.post_json(&bob, "/models/alice/x/commits", &body).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A bad token is refused even where no token is needed.
    let res = t
        .client
        .get(t.api("/models"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    t.push_ok(&alice, "alice/x", &files, None).await;
    let who: Value = t
        .client
        .get(t.api("/whoami"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who, json!({"name": "alice", "admin": false}));
    let res = t.get("/nope").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().contains_key("x-request-id"));
    let res = t
        .client
        .post(t.api("/uploads"))
        .bearer_auth(&alice)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "invalid");
}

async fn tags_do_not_move_silently(backend: Backend) {
    let t = TestApp::start(backend).await;
    let token = t.user("alice").await;
    let v1 = vec![
        ("README.md", README.as_bytes().to_vec()),
        ("a.txt", b"one".to_vec()),
    ];
    let v2 = vec![
        ("README.md", README.as_bytes().to_vec()),
        ("a.txt", b"two".to_vec()),
    ];
    let a = t.push_ok(&token, "alice/tags", &v1, None).await;
    let b = t.push_ok(&token, "alice/tags", &v2, Some(&a)).await;
    let tag = |rev: &str, force: bool| {
        t.client
            .put(t.api("/models/alice/tags/tags/v1.0"))
            .bearer_auth(&token)
            .json(&json!({"revision": rev, "force": force}))
            .send()
    };
    assert_eq!(
        tag(&a[..12], false).await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(tag(&a, false).await.unwrap().status(), StatusCode::OK);
    let res = tag("main", false).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("do not move silently"));
    let got = t
        .download("alice/tags", "v1.0", "a.txt")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"one");
    assert_eq!(tag("main", true).await.unwrap().status(), StatusCode::OK);
    let got = t
        .download("alice/tags", "v1.0", "a.txt")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"two");
    let refs: Value = t.get("/models/alice/tags/refs").await.json().await.unwrap();
    assert_eq!(refs["tags"][0]["revision"], b.as_str());
}
