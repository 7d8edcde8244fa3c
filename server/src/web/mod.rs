//! The web pages for browsers (docs/WEB.md): server-rendered HTML from the
//! tera templates in `templates/`, our own CSS from `static/`, no script.
//!
//! One file per page family: `home.rs`, `models.rs` (the list), `model.rs`
//! (a model's card), `tree.rs` (folders), `blob.rs` (one file, raw, commit
//! URLs), `files.rs` (tensors, history, compare), `benchmarks.rs`,
//! `people.rs`, `account.rs` (sign-in, model settings) and `settings.rs` (your
//! account and tokens); `render.rs` turns model cards into sanitised HTML,
//! `highlight.rs` highlights text files, `gguf.rs` reads GGUF headers,
//! `viewer.rs` knows who is signed in, and `templates.rs` loads the templates
//! and static files (built into the binary, or read from `--templates-dir` /
//! `--static-dir`).
//!
//! Every page answers errors as a styled page with the right status; a
//! private model is a 404 exactly like a missing one (`routes::readable_model`).

pub mod account;
pub mod benchmarks;
pub mod blob;
pub mod files;
pub mod highlight;
pub mod home;
pub mod model;
pub mod models;
pub mod people;
pub mod render;
pub mod settings;
pub mod signing;
pub mod templates;
pub mod tree;
pub mod viewer;
pub mod webhooks;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;

pub use templates::Web;

/// The routes of the web pages (merged into `router.rs`), each knowing who is
/// signed in (`viewer.rs`).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/models", get(models::list))
        .route("/login", get(account::login_form).post(account::login))
        .route("/logout", post(account::logout))
        .route("/signup", get(account::signup_form).post(account::signup))
        .route("/settings", get(settings::account_settings))
        .route(
            "/settings/tokens",
            get(settings::tokens).post(settings::create_token),
        )
        .route("/settings/tokens/{id}/revoke", post(settings::revoke_token))
        .route(
            "/{owner}/{name}/settings",
            get(account::model_settings).post(account::update_model_settings),
        )
        .route("/{owner}/{name}/delete", post(account::delete_model))
        .route("/{owner}/{name}/webhooks", post(webhooks::add_webhook))
        .route(
            "/{owner}/{name}/webhooks/{id}/delete",
            post(webhooks::remove_webhook),
        )
        .route(
            "/{owner}/{name}/accept-license",
            post(account::accept_license),
        )
        .route("/static/{*path}", get(templates::static_file))
        .route("/robots.txt", get(templates::robots))
        .route("/docs/signing", get(signing::keys_page))
        .route("/favicon.ico", get(templates::favicon))
        .route("/{owner}", get(people::owner))
        .route("/{owner}/{name}", get(model::model_page))
        .route("/{owner}/{name}/tree/{rev}", get(tree::tree))
        .route("/{owner}/{name}/tree/{rev}/{*dir}", get(tree::tree_dir))
        .route("/{owner}/{name}/blob/{rev}/{*path}", get(blob::blob))
        .route("/{owner}/{name}/raw/{rev}/{*path}", get(blob::raw))
        .route("/{owner}/{name}/commit/{rev}", get(blob::commit))
        .route("/{owner}/{name}/tensors/{rev}/{*path}", get(files::tensors))
        .route("/{owner}/{name}/commits/{rev}", get(files::commits))
        .route("/{owner}/{name}/compare", get(files::compare_form))
        .route("/{owner}/{name}/compare/{spec}", get(files::compare))
        .route("/{owner}/{name}/benchmarks", get(benchmarks::benchmarks))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            viewer::identify,
        ))
}

/// What no route answers: the styled 404 page for browsers (a `GET` that accepts HTML), the
/// API's JSON error for everyone else.
pub async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    method: axum::http::Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let browser = (method == axum::http::Method::GET || method == axum::http::Method::HEAD)
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if browser {
        error_page(
            &state,
            AppError::NotFound(format!("There is no page at {}.", uri.path())),
        )
    } else {
        AppError::NotFound("no such endpoint: see docs/API.md".into()).into_response()
    }
}

/// What a page handler returns: HTML, or an error shown as a styled page.
pub type PageResult = Result<Response, PageError>;

/// An error on a web page: rendered with `error.html` and its status.
#[derive(Debug)]
pub struct PageError {
    state: AppState,
    error: AppError,
}

/// Attaches the state an error page needs to render.
pub trait OrPage<T> {
    fn or_page(self, state: &AppState) -> Result<T, PageError>;
}

impl<T, E: Into<AppError>> OrPage<T> for Result<T, E> {
    fn or_page(self, state: &AppState) -> Result<T, PageError> {
        self.map_err(|e| PageError {
            state: state.clone(),
            error: e.into(),
        })
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(&self.state, self.error)
    }
}

/// The styled error page for `error` (404 for anything missing or private).
pub fn error_page(state: &AppState, error: AppError) -> Response {
    let status = error.status();
    let message = match &error {
        AppError::Internal(e) => {
            tracing::error!(error = ?e, "web page failed");
            "Something went wrong on our side. Try again in a moment.".to_string()
        }
        other => other.to_string(),
    };
    let title = match status {
        StatusCode::NOT_FOUND => "Not found".to_string(),
        s => s.canonical_reason().unwrap_or("Error").to_string(),
    };
    let ctx = serde_json::json!({
        "title": title,
        "status": status.as_u16(),
        "message": message,
    });
    match Web::of(state).and_then(|web| web.render("error.html", &ctx)) {
        Ok(html) => with_page_headers((status, Html(html)).into_response()),
        Err(e) => {
            tracing::error!(error = ?e, "cannot render the error page");
            (status, format!("{status}: {message}")).into_response()
        }
    }
}

/// Renders `template` with `ctx` as a 200 page.
pub fn page(state: &AppState, template: &str, ctx: &impl Serialize) -> PageResult {
    let html = Web::of(state)
        .and_then(|web| web.render(template, ctx))
        .or_page(state)?;
    Ok(with_page_headers(Html(html).into_response()))
}

/// What every page runs under: no script at all (a second line of defence behind the
/// sanitising of model cards), no framing, and revalidation on every visit.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'none'; object-src 'none'; \
    base-uri 'none'; frame-ancestors 'none'; form-action 'self'; img-src 'self' https: data:; style-src 'self'";

fn with_page_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// The URL of this server as clients should use it: `--public-url`, else from `Host`.
pub fn server_url(state: &AppState, headers: &HeaderMap) -> String {
    crate::client::public_url(state, headers)
}

/// Percent-encodes one URL path segment (everything but unreserved characters).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a repository path, keeping its `/` separators.
pub fn path_url(path: &str) -> String {
    path.split('/').map(seg).collect::<Vec<_>>().join("/")
}

/// Percent-encodes a query-string value.
pub fn query_value(s: &str) -> String {
    seg(s)
}

/// `1.2 GB`-style sizes (decimal units, as the Hub shows them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value < 10.0 {
        format!("{value:.2} {}", UNITS[unit])
    } else if value < 100.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// `7.24B`, `110M`, `4.2k`-style parameter counts.
pub fn human_count(n: u64) -> String {
    let v = n as f64;
    let (value, suffix) = if n >= 1_000_000_000_000 {
        (v / 1e12, "T")
    } else if n >= 1_000_000_000 {
        (v / 1e9, "B")
    } else if n >= 1_000_000 {
        (v / 1e6, "M")
    } else if n >= 1_000 {
        (v / 1e3, "k")
    } else {
        return n.to_string();
    };
    if value < 10.0 {
        format!("{value:.2}{suffix}")
    } else if value < 100.0 {
        format!("{value:.1}{suffix}")
    } else {
        format!("{value:.0}{suffix}")
    }
}

/// `2026-11-28 12:00 UTC` for a Unix time in milliseconds, and its machine form.
#[derive(Debug, Clone, Serialize)]
pub struct When {
    pub text: String,
    pub iso: String,
}

pub fn when(ms: i64) -> When {
    let iso = granary_core::time::rfc3339(ms);
    let text = format!("{} {} UTC", &iso[..10], &iso[11..16]);
    When { text, iso }
}

/// The first 12 characters of a revision id.
pub fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(6_291_456), "6.29 MB");
        assert_eq!(human_size(15_000_000_000), "15.0 GB");
        assert_eq!(human_count(7_241_732_096), "7.24B");
        assert_eq!(human_count(110_000_000), "110M");
        assert_eq!(human_count(512), "512");
        assert_eq!(seg("a b/c%"), "a%20b%2Fc%25");
        assert_eq!(path_url("dir/a b.txt"), "dir/a%20b.txt");
        assert_eq!(when(1_795_867_200_000).text, "2026-11-28 12:00 UTC");
    }
}
