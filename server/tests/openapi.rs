//! `GET /api/v1/openapi.json` cannot drift from the code or from docs/API.md:
//! it lists exactly the native routes the server answers, every path in it is
//! documented and every documented native path is in it, and real answers carry
//! what their schemas say.

mod common;

use std::collections::BTreeSet;

use common::{Backend, TestApp, model_files};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The description as the server serves it, to anyone.
async fn served(t: &TestApp) -> Value {
    let res = t.get("/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("openapi.json is JSON")
}

/// Every `(METHOD, path)` the description lists.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if ["get", "put", "post", "delete", "patch", "head"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Each path parameter filled with a value no route gives meaning to.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if s.starts_with('{') {
                "nothing-here"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether an answer is the router's fallback, or a method the path does not have.
async fn unrouted(res: reqwest::Response) -> bool {
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && body.contains("no such endpoint"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_lists_exactly_the_routes_served() {
    let t = TestApp::start(Backend::Sqlite).await;
    let doc = served(&t).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    // The table the router is built from, route by route.
    let table: BTreeSet<(String, String)> = granary_server::router::native_routes()
        .iter()
        .map(|r| (r.method.to_string(), r.openapi_path()))
        .collect();
    let described = operations(&doc);
    let undescribed: Vec<_> = table.difference(&described).collect();
    let unrouted_ops: Vec<_> = described.difference(&table).collect();
    assert!(
        undescribed.is_empty() && unrouted_ops.is_empty(),
        "routes missing from openapi.json: {undescribed:?}; described but not in the table: {unrouted_ops:?}"
    );

    // Each described operation reaches a handler, not the fallback.
    assert!(
        unrouted(t.get("/no/such/route").await).await,
        "the probe tells a routed path from an unrouted one"
    );
    for (method, path) in &described {
        let url = format!("{}{}", t.url, concrete(path));
        let method: Method = method.parse().unwrap();
        let res = t.client.request(method.clone(), &url).send().await.unwrap();
        assert!(
            !unrouted(res).await,
            "{method} {path} is described but the server does not route it"
        );
    }

    // router.rs adds no native route outside the table: its only literal route is /healthz.
    let router = include_str!("../src/router.rs");
    let literal: Vec<&str> = router
        .split(".route(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default())
        .collect();
    assert_eq!(
        literal,
        ["/healthz"],
        "router.rs registers routes outside native_routes(): {literal:?}"
    );
    assert_eq!(
        router
            .matches(".nest(\"/api/v1\", native_api(native_routes()))")
            .count(),
        1,
        "the native API is nested from the table alone"
    );
}

/// The `/api/v1/...` paths docs/API.md names, without queries; a path followed by
/// `…` or `...` is a prefix (`/api/v1/uploads/…`), not a route.
fn documented_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("/api/v1/") {
        let rest = &text[at..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/{}_-.*".contains(c)))
            .unwrap_or(rest.len());
        let path = &rest[..end];
        let after = &rest[end..];
        if after.starts_with('…') || path.ends_with("...") || path.ends_with('/') {
            continue;
        }
        out.insert(path.trim_end_matches('.').to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_described_path_is_documented_and_back() {
    let t = TestApp::start(Backend::Sqlite).await;
    let doc = served(&t).await;
    let described: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let documented = documented_paths(include_str!("../../docs/API.md"));
    let undocumented: Vec<_> = described.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&described).collect();
    assert!(
        undocumented.is_empty(),
        "paths in openapi.json that docs/API.md does not name: {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "paths docs/API.md names that openapi.json does not describe: {stale:?}"
    );
}

/// Checks `value` against `schema` (resolving `$ref`s in `doc`): its type, every
/// required property present, and the same for each property, item and map value.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(
            !target.is_null(),
            "{at}: schema {name} is not in components"
        );
        return check(doc, target, value, at, errors);
    }
    if let Some(variants) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let fits = variants.iter().any(|v| {
            let mut e = Vec::new();
            check(doc, v, value, at, &mut e);
            e.is_empty()
        });
        if !fits {
            errors.push(format!("{at}: fits none of {variants:?}: {value}"));
        }
        return;
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        check(doc, part, value, at, errors);
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let is = |t: &str| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !types.is_empty() && !types.iter().any(|t| is(t)) {
        errors.push(format!("{at}: {value} is not of type {types:?}"));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(object) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            let key = required.as_str().unwrap();
            if !object.contains_key(key) {
                errors.push(format!("{at}: required `{key}` is missing"));
            }
        }
        for (key, v) in object {
            if let Some(s) = schema["properties"].get(key) {
                check(doc, s, v, &format!("{at}.{key}"), errors);
            } else if schema["additionalProperties"].is_object() {
                let s = &schema["additionalProperties"];
                check(doc, s, v, &format!("{at}.{key}"), errors);
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"), errors);
        }
    }
}

/// The schema of the `status` answer of `METHOD path` in the description.
fn answer_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(
        !schema.is_null(),
        "openapi.json describes no {status} JSON answer of {method} {path}"
    );
    schema
}

/// A request and the answer it must get.
struct Case<'a> {
    method: &'static str,
    /// The path as the description writes it.
    described: &'static str,
    /// The path asked, under `/api/v1`.
    path: &'static str,
    token: &'a str,
    body: Option<Value>,
    status: u16,
}

impl<'a> Case<'a> {
    fn new(
        method: &'static str,
        described: &'static str,
        path: &'static str,
        token: &'a str,
    ) -> Self {
        Self {
            method,
            described,
            path,
            token,
            body: None,
            status: 200,
        }
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Sends the request and checks the answer against its schema in `doc`.
    async fn check(&self, t: &TestApp, doc: &Value) {
        let (method, path) = (self.method, self.path);
        let mut req = t
            .client
            .request(method.to_uppercase().parse().unwrap(), t.api(path))
            .bearer_auth(self.token);
        if let Some(body) = &self.body {
            req = req.json(body);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), self.status, "{method} {path}");
        let value: Value = res.json().await.unwrap();
        let schema = answer_schema(doc, method, self.described, self.status);
        let mut errors = Vec::new();
        check(
            doc,
            schema,
            &value,
            &format!("{method} {path}"),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:#?}\nin {value:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_answers_carry_what_their_schemas_require() {
    let t = TestApp::start(Backend::Sqlite).await;
    let doc = served(&t).await;
    let alice = t.user("alice").await;
    t.push_ok(&alice, "alice/tiny", &model_files(), None).await;
    let admin = t.admin_token().await;
    let model = "/api/v1/models/{owner}/{name}";
    let cases = [
        Case::new("get", model, "/models/alice/tiny", &alice),
        Case::new("get", "/api/v1/models", "/models", &alice),
        Case::new(
            "get",
            "/api/v1/models/{owner}/{name}/refs",
            "/models/alice/tiny/refs",
            &alice,
        ),
        Case::new(
            "get",
            "/api/v1/models/{owner}/{name}/log/{rev}",
            "/models/alice/tiny/log/main",
            &alice,
        ),
        Case::new("post", "/api/v1/tokens", "/tokens", &alice)
            .body(json!({"name": "ci", "scope": "read", "expires_days": 3}))
            .status(201),
        Case::new("get", "/api/v1/tokens", "/tokens", &alice),
        Case::new("get", "/api/v1/whoami", "/whoami", &alice),
        Case::new("post", "/api/v1/orgs", "/orgs", &alice)
            .body(json!({"name": "acme"}))
            .status(201),
        Case::new(
            "get",
            "/api/v1/orgs/{org}/members",
            "/orgs/acme/members",
            &alice,
        ),
        Case::new(
            "patch",
            "/api/v1/models/{owner}/{name}/settings",
            "/models/alice/tiny/settings",
            &alice,
        )
        .body(json!({"gated": true})),
        Case::new(
            "post",
            "/api/v1/models/{owner}/{name}/license/accept",
            "/models/alice/tiny/license/accept",
            &alice,
        ),
        Case::new(
            "get",
            "/api/v1/models/{owner}/{name}/license/acceptances",
            "/models/alice/tiny/license/acceptances",
            &alice,
        ),
        Case::new(
            "post",
            "/api/v1/models/{owner}/{name}/revisions/{rev}/verify",
            "/models/alice/tiny/revisions/main/verify",
            &alice,
        )
        .status(202),
        Case::new("get", "/api/v1/audit", "/audit", &admin),
        Case::new("get", "/api/v1/stats", "/stats", &admin),
    ];
    for case in &cases {
        case.check(&t, &doc).await;
    }
}
