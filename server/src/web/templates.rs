//! Loading the web pages' tera templates (autoescape on for every `.html`)
//! and static files, and serving the static files with `Cache-Control` and
//! an `ETag`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::AppState;
use crate::config::WebConfig;
use crate::error::{AppError, AppResult};

/// The templates and static files, loaded once at start.
pub struct Web {
    /// `None` when the templates directory does not exist (the API still works).
    tera: Option<tera::Tera>,
    templates_dir: String,
    statics: HashMap<String, StaticFile>,
}

/// A static file held in memory.
struct StaticFile {
    bytes: Vec<u8>,
    content_type: &'static str,
    /// The quoted strong ETag: a prefix of the SHA-256 of the bytes.
    etag: String,
}

impl fmt::Debug for Web {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Web")
            .field("templates_dir", &self.templates_dir)
            .field(
                "templates",
                &self.tera.as_ref().map(|t| t.get_template_names().count()),
            )
            .field("statics", &self.statics.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The loaded templates of each configuration this process has served (one, outside tests).
static LOADED: LazyLock<Mutex<HashMap<(PathBuf, PathBuf), Arc<Web>>>> =
    LazyLock::new(Default::default);

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

    /// Loads every `*.html` under the templates directory and every file of the static directory.
    /// A missing directory is a warning (the pages then answer 500); a broken template is an error.
    pub fn load(config: &WebConfig) -> anyhow::Result<Self> {
        let dir = &config.templates_dir;
        let templates_dir = dir.display().to_string();
        let tera = if dir.is_dir() {
            let glob = format!("{}/**/*.html", templates_dir.trim_end_matches('/'));
            let mut tera = tera::Tera::new(&glob).map_err(|e| {
                anyhow::anyhow!(
                    "cannot load the web templates in {templates_dir}: {}",
                    chain(&e)
                )
            })?;
            tera.autoescape_on(vec![".html"]);
            tera.set_escape_fn(escape_html);
            Some(tera)
        } else {
            tracing::warn!(dir = %templates_dir, "no templates directory: web pages are off (see --templates-dir)");
            None
        };
        let mut statics = HashMap::new();
        if config.static_dir.is_dir() {
            load_statics(&config.static_dir, "", &mut statics)?;
        } else {
            tracing::warn!(dir = %config.static_dir.display(), "no static directory (see --static-dir)");
        }
        Ok(Self {
            tera,
            templates_dir,
            statics,
        })
    }

    /// Renders a template with `ctx` plus the values every page uses.
    pub fn render(&self, template: &str, ctx: &impl Serialize) -> AppResult<String> {
        let tera = self.tera.as_ref().ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "the web templates were not found in {} (set --templates-dir)",
                self.templates_dir
            ))
        })?;
        let mut context = tera::Context::from_serialize(ctx).map_err(AppError::internal)?;
        context.insert("css_version", &self.version("granary.css"));
        tera.render(template, &context)
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

fn load_statics(
    dir: &Path,
    prefix: &str,
    out: &mut HashMap<String, StaticFile>,
) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = format!("{prefix}{name}");
        if entry.file_type()?.is_dir() {
            load_statics(&entry.path(), &format!("{key}/"), out)?;
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
        let digest = granary_core::Sha256::of(&bytes).hex();
        let content_type = match key.rsplit_once('.').map(|(_, e)| e) {
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            Some("png") => "image/png",
            Some("ico") => "image/x-icon",
            Some("txt") => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        out.insert(
            key,
            StaticFile {
                bytes,
                content_type,
                etag: format!("\"{}\"", &digest[..16]),
            },
        );
    }
    Ok(())
}

/// `GET /static/{path}`: a static file, with `ETag`, `Cache-Control` and `304` on a match.
pub async fn static_file(
    State(state): State<AppState>,
    axum::extract::Path(path): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let web = match Web::of(&state) {
        Ok(web) => web,
        Err(e) => return super::error_page(&state, e),
    };
    let Some(file) = web.statics.get(&path) else {
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
