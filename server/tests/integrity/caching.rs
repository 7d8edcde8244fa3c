//! Cache headers of downloads on every surface: only public, ungated,
//! revision-addressed bytes are publicly cacheable and immutable.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::json;

use super::common::{Backend, README, TestApp};

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

pub async fn downloads_are_cached_only_as_their_readers_allow(backend: Backend) {
    let t = TestApp::start(backend).await;
    let alice = t.user("alice").await;
    let files = |tag: &str| {
        vec![
            ("README.md", README.as_bytes().to_vec()),
            ("w.bin", format!("weights of {tag}").into_bytes()),
        ]
    };
    let mut revs = Vec::new();
    for (model, extra) in [
        ("open", json!({})),
        ("secret", json!({"private": true})),
        ("gated", json!({})),
    ] {
        let res = t
            .push(
                &alice,
                &format!("alice/{model}"),
                &files(model),
                None,
                extra,
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let v: serde_json::Value = res.json().await.unwrap();
        revs.push((model, v["id"].as_str().unwrap().to_string()));
    }
    let res = t
        .settings(&alice, "alice/gated", &json!({"gated": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    for (model, rev) in &revs {
        let public = *model == "open";
        let addresses = [
            (
                t.api(&format!("/models/alice/{model}/files/{rev}/w.bin")),
                true,
            ),
            (
                t.api(&format!("/models/alice/{model}/files/main/w.bin")),
                false,
            ),
            (
                t.api(&format!("/models/alice/{model}/files/{}/w.bin", &rev[..12])),
                false,
            ),
            (format!("{}/alice/{model}/resolve/{rev}/w.bin", t.url), true),
            (
                format!("{}/alice/{model}/resolve/{}/w.bin", t.url, &rev[..40]),
                true,
            ),
            (format!("{}/alice/{model}/resolve/main/w.bin", t.url), false),
        ];
        for (url, by_id) in addresses {
            for head in [false, true] {
                let req = if head {
                    t.client.head(&url)
                } else {
                    t.client.get(&url)
                };
                let res = req.bearer_auth(&alice).send().await.unwrap();
                assert_eq!(res.status(), StatusCode::OK, "{url}");
                let h = res.headers();
                let cc = header(h, "cache-control");
                let want = match (public, by_id) {
                    (true, true) => "public, max-age=31536000, immutable",
                    (true, false) => "public, no-cache",
                    (false, true) => "private, max-age=31536000, immutable",
                    (false, false) => "private, no-cache",
                };
                assert_eq!(cc, want, "{url}");
                if public {
                    assert_eq!(header(h, "vary"), "", "{url}");
                } else {
                    assert!(
                        header(h, "vary").contains("Authorization")
                            && header(h, "vary").contains("Cookie"),
                        "{url}"
                    );
                }
                assert!(
                    !header(h, "etag").is_empty(),
                    "{url}: revalidation needs the ETag"
                );
                assert_eq!(header(h, "x-content-type-options"), "nosniff", "{url}");
                assert_eq!(
                    header(h, "content-disposition"),
                    "attachment; filename=\"w.bin\"",
                    "{url}"
                );
            }
        }
    }
    t.assert_fsck_clean().await;
}
