//! `POST /api/models/{owner}/{name}/commit/{branch}`: the Hub's NDJSON commit.
//!
//! The body is one JSON object per line: a `header`, then `file` (inline,
//! base64), `lfsFile` (a stored blob by SHA-256), `deletedFile`,
//! `deletedFolder` and `copyFile` operations. Inline contents can be large, so
//! the body is never held whole: it is scanned line by line, and the base64
//! string of each `content` is decoded as it streams into
//! [`crate::ingest::store_stream`]; only the rest of the line is parsed as JSON.
//! The new file list is the parent revision's plus the operations, landed by
//! [`crate::publish::commit`] (same checks as every push; the branch moves
//! compare-and-swap, from `parentCommit` when given).

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use granary_core::api::{CommitFile, CommitRequest};
use granary_core::{RepoPath, Sha256};
use serde_json::json;
use tokio::task::JoinHandle;

use super::bodies::CommitLine;
use super::{
    HfCaller, HfError, HfResult, base_url, commit_oid, json_status, manifest_files, readable,
    revision,
};
use crate::app::{AppState, Stats};
use crate::db::{blobs, refs};
use crate::error::{AppError, AppResult, Path};
use crate::storage::BlobLayout;

/// The most bytes of one NDJSON line outside its inline `content`.
const MAX_LINE: usize = 1024 * 1024;

/// One operation of a commit, in body order.
enum Op {
    Header {
        summary: String,
        description: String,
        parent: Option<String>,
    },
    File {
        path: String,
        blob: BlobLayout,
    },
    Lfs {
        path: String,
        oid: String,
        size: Option<u64>,
    },
    Delete(String),
    DeleteFolder(String),
    Copy {
        src: String,
        dest: String,
        src_revision: Option<String>,
    },
}

pub async fn create_commit(
    State(state): State<AppState>,
    HfCaller(caller): HfCaller,
    headers: HeaderMap,
    Path((owner, name, branch)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> HfResult<Response> {
    if raw.as_deref().is_some_and(|q| {
        q.split('&')
            .any(|p| p == "create_pr=1" || p == "create_pr=true")
    }) {
        return Err(HfError::invalid(
            "Granary has no pull requests: commit to a branch instead",
        ));
    }
    let model = readable(&state, &caller, &owner, &name).await?;
    let user = super::writer(&state, &caller, &model.owner).await?;
    let head = match refs::find(&state.db, &model.id, refs::BRANCH, &branch).await? {
        Some(r) => Some(r.revision_id),
        None if branch == model.default_branch
            && refs::list(&state.db, &model.id).await?.is_empty() =>
        {
            None
        }
        None => {
            return Err(AppError::RevisionNotFound(format!(
                "{} has no branch `{branch}`: commits go to an existing branch (create it first)",
                model.full_name()
            ))
            .into());
        }
    };

    let ops = read_ops(&state, &user.id, body).await?;
    let Some(Op::Header {
        summary,
        description,
        parent,
    }) = ops.first()
    else {
        return Err(HfError::invalid(
            "the first line of a commit must be its `header`",
        ));
    };
    let parent_id = match parent {
        Some(p) => Some(revision(&state, &model, p).await?.id.clone()),
        None => head,
    };
    let mut files: BTreeMap<String, CommitFile> = BTreeMap::new();
    if let Some(p) = &parent_id {
        let r = revision(&state, &model, p).await?;
        for f in manifest_files(&r)?.files {
            files.insert(
                f.path.to_string(),
                CommitFile {
                    path: f.path,
                    size: f.size,
                    sha256: f.sha256,
                },
            );
        }
    }
    let base = files.clone();
    for op in &ops[1..] {
        match op {
            Op::Header { .. } => {
                return Err(HfError::invalid("a commit has one `header` line, first"));
            }
            Op::File { path, blob } => {
                files.insert(path.clone(), commit_file(path, blob.sha256, blob.size)?);
            }
            Op::Lfs { path, oid, size } => {
                let sha: Sha256 = oid
                    .parse()
                    .map_err(|_| HfError::invalid(format!("`{path}`: `{oid}` is not a SHA-256")))?;
                // The size is the client's word; the commit checks it, and that the
                // caller may name this blob, like every other file.
                let size = match size {
                    Some(s) => *s,
                    None => lfs_size(&state, &caller, &sha).await?.ok_or_else(|| {
                        HfError::invalid(format!("`{path}`: LFS object {oid} is not stored for you: upload it before committing"))
                    })?,
                };
                files.insert(path.clone(), commit_file(path, sha, size)?);
            }
            Op::Delete(path) => {
                if files.remove(path.trim_matches('/')).is_none() {
                    return Err(AppError::EntryNotFound(format!(
                        "cannot delete `{path}`: no such file"
                    ))
                    .into());
                }
            }
            Op::DeleteFolder(path) => {
                let folder = path.trim_matches('/');
                if folder.is_empty() {
                    files.clear();
                } else {
                    let prefix = format!("{folder}/");
                    files.retain(|p, _| !p.starts_with(&prefix));
                }
            }
            Op::Copy {
                src,
                dest,
                src_revision,
            } => {
                let source = match src_revision {
                    Some(rev) => {
                        let r = revision(&state, &model, rev).await?;
                        manifest_files(&r)?
                            .files
                            .into_iter()
                            .find(|f| f.path.as_str() == src)
                            .map(|f| (f.sha256, f.size))
                    }
                    None => base.get(src).map(|f| (f.sha256, f.size)),
                };
                let (sha, size) = source.ok_or_else(|| {
                    HfError::from(AppError::EntryNotFound(format!(
                        "cannot copy `{src}`: no such file"
                    )))
                })?;
                files.insert(dest.clone(), commit_file(dest, sha, size)?);
            }
        }
    }
    let message = if description.trim().is_empty() {
        summary.clone()
    } else {
        format!("{summary}\n\n{description}")
    };
    let id = super::repo_id(&model.owner, &model.name)?;
    let req = CommitRequest {
        branch: branch.clone(),
        parent: parent_id
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(AppError::internal)?,
        message,
        license: None,
        license_name: None,
        files: files.into_values().collect(),
        private: None,
    };
    let published = crate::publish::commit(&state, &caller, &id, req).await?;
    let oid = commit_oid(&published.revision.id);
    Ok(json_status(
        StatusCode::OK,
        json!({
            "commitUrl": format!("{}/{}/commit/{oid}", base_url(&state, &headers), published.model.full_name()),
            "commitOid": oid,
            "pullRequestUrl": null,
        }),
    ))
}

/// The size of a blob the caller may name by digest (an `lfsFile` line without `size`).
async fn lfs_size(
    state: &AppState,
    caller: &crate::auth::Caller,
    sha: &Sha256,
) -> HfResult<Option<u64>> {
    if !crate::access::referable_blobs(&state.db, caller, &[*sha])
        .await?
        .contains(sha)
    {
        return Ok(None);
    }
    Ok(blobs::find(&state.db, sha).await?.map(|b| b.size))
}

fn commit_file(path: &str, sha256: Sha256, size: u64) -> HfResult<CommitFile> {
    let path = RepoPath::parse(path).map_err(|e| HfError::invalid(format!("`{path}`: {e}")))?;
    Ok(CommitFile { path, size, sha256 })
}

/// An inline `content` being decoded into the store.
struct Inline {
    tx: futures::channel::mpsc::Sender<Result<Bytes, std::convert::Infallible>>,
    task: JoinHandle<AppResult<BlobLayout>>,
    /// Base64 characters not yet decoded (fewer than 4, or a group waiting for more).
    pending: Vec<u8>,
}

impl Inline {
    fn start(state: &AppState, uploader: &str) -> Self {
        let (tx, rx) = futures::channel::mpsc::channel(4);
        let (app, uploader) = (state.clone(), uploader.to_string());
        let task =
            tokio::spawn(
                async move { crate::ingest::store_stream(&app, &uploader, rx, None).await },
            );
        Self {
            tx,
            task,
            pending: Vec::new(),
        }
    }

    /// Decodes the whole 4-character groups of `pending` (all of it when `last`) and sends them.
    async fn feed(&mut self, state: &AppState, text: &[u8], last: bool) -> HfResult<()> {
        self.pending.extend(
            text.iter()
                .filter(|b| !b.is_ascii_whitespace() && **b != b'\\'),
        );
        let whole = if last {
            self.pending.len()
        } else {
            self.pending.len() / 4 * 4
        };
        if whole == 0 || (!last && whole < 64 * 1024) {
            return Ok(());
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&self.pending[..whole])
            .map_err(|e| {
                HfError::invalid(format!("an inline file's content is not valid base64: {e}"))
            })?;
        self.pending.drain(..whole);
        Stats::add(&state.stats.blob_bytes_received, decoded.len() as u64);
        if self.tx.send(Ok(Bytes::from(decoded))).await.is_err() {
            // The store gave up (too large, store error): its error says why.
            return Err(self.task_error().await);
        }
        Ok(())
    }

    async fn task_error(&mut self) -> HfError {
        match (&mut self.task).await {
            Ok(Err(e)) => e.into(),
            Ok(Ok(_)) => {
                AppError::internal(anyhow::anyhow!("the blob store stopped reading early")).into()
            }
            Err(e) => AppError::internal(e).into(),
        }
    }

    async fn finish(mut self, state: &AppState) -> HfResult<BlobLayout> {
        self.feed(state, &[], true).await?;
        self.tx.close_channel();
        match self.task.await {
            Ok(r) => Ok(r?),
            Err(e) => Err(AppError::internal(e).into()),
        }
    }
}

/// True when `line` ends with `"content"`, optional spaces, `:`, optional spaces.
fn at_content_value(line: &[u8]) -> bool {
    let trimmed = line.trim_ascii_end();
    let Some(before_colon) = trimmed.strip_suffix(b":") else {
        return false;
    };
    before_colon.trim_ascii_end().ends_with(b"\"content\"")
}

/// Reads the NDJSON body into operations, storing inline contents as it goes.
async fn read_ops(state: &AppState, uploader: &str, body: Body) -> HfResult<Vec<Op>> {
    let mut stream = body.into_data_stream();
    let mut ops = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut inline: Option<Inline> = None;
    let mut blob: Option<BlobLayout> = None;
    loop {
        let chunk = match stream.next().await {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                return Err(HfError::invalid(format!(
                    "reading the commit body failed: {e}"
                )));
            }
            None => break,
        };
        let mut rest: &[u8] = &chunk;
        while !rest.is_empty() {
            if let Some(current) = inline.as_mut() {
                match rest.iter().position(|b| *b == b'"') {
                    Some(end) => {
                        current.feed(state, &rest[..end], false).await?;
                        let done = inline
                            .take()
                            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no inline")))?;
                        blob = Some(done.finish(state).await?);
                        rest = &rest[end + 1..];
                    }
                    None => {
                        current.feed(state, rest, false).await?;
                        rest = &[];
                    }
                }
                continue;
            }
            let b = rest[0];
            rest = &rest[1..];
            match b {
                b'\n' => {
                    if let Some(op) = parse_line(&line, blob.take())? {
                        ops.push(op);
                        if ops.len() > state.config.max_files + 1 {
                            return Err(AppError::TooLarge(format!(
                                "a commit may hold at most {} operations (max_files)",
                                state.config.max_files
                            ))
                            .into());
                        }
                    }
                    line.clear();
                }
                b'"' if blob.is_none() && at_content_value(&line) => {
                    line.extend_from_slice(b"\"\"");
                    inline = Some(Inline::start(state, uploader));
                }
                _ => {
                    line.push(b);
                    if line.len() > MAX_LINE {
                        return Err(AppError::TooLarge(
                            "a commit line is too long: over the limit of 1 MiB outside `content`"
                                .into(),
                        )
                        .into());
                    }
                }
            }
        }
    }
    if inline.is_some() {
        return Err(HfError::invalid(
            "the commit body ended inside a file's content",
        ));
    }
    if let Some(op) = parse_line(&line, blob.take())? {
        ops.push(op);
    }
    Ok(ops)
}

/// One NDJSON line (its inline content, if any, already stored as `blob`).
fn parse_line(line: &[u8], blob: Option<BlobLayout>) -> HfResult<Option<Op>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let CommitLine { key, value } = serde_json::from_slice(line)
        .map_err(|e| HfError::invalid(format!("a commit line is not JSON: {e}")))?;
    let key = key.as_str();
    let path = || {
        value
            .path
            .clone()
            .ok_or_else(|| HfError::invalid(format!("a `{key}` line needs a `path`")))
    };
    let op = match key {
        "header" => Op::Header {
            summary: value.summary.clone().unwrap_or_default(),
            description: value.description.clone().unwrap_or_default(),
            parent: value.parent_commit.clone(),
        },
        "file" => {
            if let Some(enc) = &value.encoding
                && enc != "base64"
            {
                return Err(HfError::invalid(format!(
                    "inline files must be base64-encoded, not `{enc}`"
                )));
            }
            let blob = blob.ok_or_else(|| HfError::invalid("a `file` line needs a `content`"))?;
            Op::File {
                path: path()?,
                blob,
            }
        }
        "lfsFile" => Op::Lfs {
            path: path()?,
            oid: value
                .oid
                .clone()
                .ok_or_else(|| HfError::invalid("an `lfsFile` line needs an `oid`"))?,
            size: value.size,
        },
        "deletedFile" => Op::Delete(path()?),
        "deletedFolder" => Op::DeleteFolder(path()?),
        "copyFile" => Op::Copy {
            src: path()?,
            dest: value
                .new_path
                .clone()
                .ok_or_else(|| HfError::invalid("a `copyFile` line needs a `newPath`"))?,
            src_revision: value.src_revision.clone(),
        },
        other => {
            return Err(HfError::invalid(format!(
                "unknown commit operation `{other}`"
            )));
        }
    };
    Ok(Some(op))
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_content_values() {
        assert!(super::at_content_value(
            br#"{"key": "file", "value": {"content": "#
        ));
        assert!(super::at_content_value(br#"{"value":{"content":"#));
        assert!(!super::at_content_value(
            br#"{"value": {"summary": "a \"content\": \"#
        ));
        assert!(!super::at_content_value(br#"{"value": {"path": "#));
    }
}
