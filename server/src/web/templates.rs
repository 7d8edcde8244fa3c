//! The web pages' tera templates (autoescape on for every `.html`) and static
//! files: the copies built into the binary (`server/build.rs`), or those of
//! `--templates-dir` / `--static-dir` when given; and serving the static files
//! with `Cache-Control` and an `ETag`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use crate::app::AppState;
use crate::config::WebConfig;
use crate::error::{AppError, AppResult};

/// The templates and static files of the source tree, as they were when this binary was built.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_web.rs"));
}

/// The templates and static files, loaded once.
pub struct Web {
    tera: tera::Tera,
    /// Where they came from, for the logs.
    source: String,
    statics: HashMap<String, StaticFile>,
}

/// A static file held in memory.
struct StaticFile {
    /// The built-in copy itself, or the bytes read from `--static-dir`.
    bytes: Bytes,
    content_type: &'static str,
    /// The quoted strong ETag: a prefix of the SHA-256 of the bytes.
    etag: String,
}

impl fmt::Debug for Web {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Web")
            .field("source", &self.source)
            .field("templates", &self.tera.get_template_names().count())
            .field("statics", &self.statics.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The directories a configuration names (`None`: the embedded copies).
type Sources = (Option<PathBuf>, Option<PathBuf>);

/// The loaded templates of each configuration this process has served (one, outside tests).
static LOADED: LazyLock<Mutex<HashMap<Sources, Arc<Web>>>> = LazyLock::new(Default::default);

impl Web {
    /// The templates and static files `state`'s configuration names, loaded on first use.
    pub fn of(state: &AppState) -> AppResult<Arc<Web>> {
        let config = &state.config.web;
        let key = (config.templates_dir.clone(), config.static_dir.clone());
        if let Some(web) = LOADED.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(web);
        }
        let web = Arc::new(Web::load(config).map_err(AppError::internal)?);
        if let Ok(mut loaded) = LOADED.lock() {
            loaded.insert(key, web.clone());
        }
        Ok(web)
    }

    /// Loads the embedded templates and static files, or those of the configured directories.
    /// An unreadable directory or a broken template is an error (the pages then answer 500; the
    /// API is not affected).
    pub fn load(config: &WebConfig) -> anyhow::Result<Self> {
        let (templates, templates_from) = match &config.templates_dir {
            Some(dir) => {
                let files = read_dir_files(dir).map_err(|e| {
                    anyhow::anyhow!("cannot read --templates-dir {}: {e}", dir.display())
                })?;
                let html = files
                    .into_iter()
                    .filter(|(name, _)| name.ends_with(".html"))
                    .map(|(name, bytes)| {
                        String::from_utf8(bytes)
                            .map(|text| (name.clone(), text))
                            .map_err(|_| {
                                anyhow::anyhow!("template {name} in {} is not UTF-8", dir.display())
                            })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                (html, dir.display().to_string())
            }
            None => (
                embedded::TEMPLATES
                    .iter()
                    .map(|&(name, text)| (name.to_string(), text.to_string()))
                    .collect(),
                "built in".to_string(),
            ),
        };
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.set_escape_fn(escape_html);
        tera.register_filter("date", date_filter);
        tera.add_raw_templates(templates).map_err(|e| {
            anyhow::anyhow!(
                "cannot load the web templates ({templates_from}): {}",
                chain(&e)
            )
        })?;
        let (files, statics_from) = match &config.static_dir {
            Some(dir) => (
                read_dir_files(dir)
                    .map_err(|e| {
                        anyhow::anyhow!("cannot read --static-dir {}: {e}", dir.display())
                    })?
                    .into_iter()
                    .map(|(name, bytes)| (name, Bytes::from(bytes)))
                    .collect::<Vec<_>>(),
                dir.display().to_string(),
            ),
            None => (
                embedded::STATIC_FILES
                    .iter()
                    .map(|&(name, bytes)| (name.to_string(), Bytes::from_static(bytes)))
                    .collect(),
                "built in".to_string(),
            ),
        };
        let statics = files
            .into_iter()
            .map(|(name, bytes)| {
                let file = StaticFile::new(&name, bytes);
                (name, file)
            })
            .collect();
        let source = format!("templates {templates_from}, static files {statics_from}");
        tracing::info!(source = %source, "web templates loaded");
        Ok(Self {
            tera,
            source,
            statics,
        })
    }

    /// Renders a template with `ctx` plus the values every page uses.
    pub fn render(&self, template: &str, ctx: &impl Serialize) -> AppResult<String> {
        let mut context = tera::Context::from_serialize(ctx).map_err(AppError::internal)?;
        context.insert("css_version", &self.version("granary.css"));
        context.insert("favicon_version", &self.version("favicon.svg"));
        context.insert("viewer", &super::viewer::current());
        self.tera
            .render(template, &context)
            .map_err(|e| AppError::internal(anyhow::anyhow!("rendering {template}: {}", chain(&e))))
    }

    /// A short version of a static file for cache-busting URLs.
    fn version(&self, path: &str) -> String {
        self.statics
            .get(path)
            .map(|f| f.etag.trim_matches('"').to_string())
            .unwrap_or_default()
    }
}

/// `{{ t.created_at | date }}`: a Unix time in milliseconds as `2026-11-28 12:00 UTC`, so no
/// page shows raw epoch numbers. Anything that is not a number is left as it is.
fn date_filter(value: &tera::Value, _: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    Ok(match value.as_i64() {
        Some(ms) => tera::Value::String(super::when(ms).text),
        None => value.clone(),
    })
}

impl StaticFile {
    fn new(name: &str, bytes: Bytes) -> Self {
        let digest = granary_core::Sha256::of(&bytes).hex();
        let content_type = match name.rsplit_once('.').map(|(_, e)| e) {
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            Some("png") => "image/png",
            Some("ico") => "image/x-icon",
            Some("txt") => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        Self {
            bytes,
            content_type,
            etag: format!("\"{}\"", &digest[..16]),
        }
    }
}

/// Escapes text for HTML content and double- or single-quoted attribute values. (Tera's own
/// escaping also turns `/` into `&#x2F;`, which is safe but makes every link unreadable.)
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A tera error with its causes (tera's own message names only the outer one).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Every file under `dir` as (path relative to it with `/` separators, bytes), as
/// `server/build.rs` embeds them: names starting with `.` are left out.
fn read_dir_files(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let key = format!("{prefix}{name}");
            if entry.path().is_dir() {
                walk(&entry.path(), &format!("{key}/"), out)?;
            } else {
                out.push((key, std::fs::read(entry.path())?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    Ok(out)
}

/// `GET /static/{path}`: a static file, with `ETag`, `Cache-Control` and `304` on a match.
pub async fn static_file(
    State(state): State<AppState>,
    axum::extract::Path(path): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    serve_static(&state, &path, &headers)
}

/// `GET /robots.txt`: `static/robots.txt`, where crawlers look for it.
pub async fn robots(State(state): State<AppState>, headers: HeaderMap) -> Response {
    serve_static(&state, "robots.txt", &headers)
}

/// `GET /favicon.ico`: browsers that ask before reading the page's `<link rel="icon">` get
/// the SVG icon.
pub async fn favicon() -> Response {
    axum::response::Redirect::permanent("/static/favicon.svg").into_response()
}

fn serve_static(state: &AppState, path: &str, headers: &HeaderMap) -> Response {
    let state = state.clone();
    let web = match Web::of(&state) {
        Ok(web) => web,
        Err(e) => return super::error_page(&state, e),
    };
    let Some(file) = web.statics.get(path) else {
        return super::error_page(&state, AppError::NotFound("There is no such file.".into()));
    };
    let etag = HeaderValue::from_str(&file.etag).expect("hex is a valid header value");
    let cache = HeaderValue::from_static("public, max-age=86400");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == file.etag || t.trim() == "*")
        });
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(file.content_type),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        file.bytes.clone(),
    )
        .into_response()
}
