//! Uploading blobs: one upload session per blob, several blobs at once, the
//! parts of each blob sent one after another in ascending order (so the
//! server hashes them as they stream in and its final check re-reads
//! nothing), then completed. Each part is read from the file in 1 MiB blocks
//! on a blocking thread and streamed as the request body without copying.
//! A session survives the client: asking for the same blob again returns it
//! with the parts the server already holds, so an interrupted push resumes
//! where it stopped.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use granary_core::api::{BlobRef, CreateUploadRequest, UploadStatus};
use indicatif::ProgressBar;
use reqwest::Body;
use tokio::sync::mpsc;

use crate::client::Client;
use crate::error::{Failure, Kind, kind_of};
use crate::progress::Reporter;

/// Bytes per read of a part.
const READ_BLOCK: usize = 1 << 20;

/// A blob to upload and the local file that holds its bytes.
#[derive(Debug, Clone)]
pub struct PendingBlob {
    pub blob: BlobRef,
    pub file: PathBuf,
}

/// What [`upload_all`] did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Uploaded {
    /// Blobs the registry lacked (wholly or in part).
    pub blobs: usize,
    /// Bytes sent.
    pub bytes: u64,
}

/// Uploads the blobs as the stream yields them, `jobs` blobs at once; blobs
/// the registry already stores are skipped.
pub async fn upload_all(
    client: &Client,
    blobs: impl Stream<Item = PendingBlob>,
    jobs: usize,
    report: &Reporter,
    bar: &ProgressBar,
) -> Result<Uploaded> {
    let delay = test_delay();
    blobs
        .map(|b| {
            let file_bar = report.file(&b.file.display().to_string(), b.blob.size);
            async move {
                let sent = upload_one(client, &b, (bar, &file_bar), delay).await;
                file_bar.finish_and_clear();
                sent
            }
        })
        .buffer_unordered(jobs.max(1))
        .try_fold(Uploaded::default(), |total, sent| async move {
            Ok(Uploaded {
                blobs: total.blobs + usize::from(sent.is_some()),
                bytes: total.bytes + sent.unwrap_or(0),
            })
        })
        .await
}

/// A hidden throttle for tests of interrupted pushes: sleep this long after each part.
fn test_delay() -> Option<Duration> {
    std::env::var("GRANARY_TEST_UPLOAD_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

/// Sends one blob's missing parts in order and completes it; answers the
/// bytes sent, or `None` when the registry already stored the blob.
async fn upload_one(
    client: &Client,
    pending: &PendingBlob,
    (bar, file_bar): (&ProgressBar, &ProgressBar),
    delay: Option<Duration>,
) -> Result<Option<u64>> {
    let what = format!("uploading {}", pending.file.display());
    let req = CreateUploadRequest {
        sha256: pending.blob.sha256,
        size: pending.blob.size,
    };
    let mut sent = 0;
    // Twice at most: a completion that finds parts missing gets them sent again.
    for attempt in 0..2 {
        let status: UploadStatus = client.post_json("/api/v1/uploads", &req, &what).await?;
        let Some(id) = status.id.clone().filter(|_| !status.stored) else {
            bar.inc(pending.blob.size);
            return Ok((attempt > 0).then_some(sent));
        };
        let done: u64 = status
            .received
            .iter()
            .map(|&n| {
                let (a, b) = status.part_range(n);
                b - a
            })
            .sum();
        if attempt == 0 {
            bar.inc(done);
            file_bar.inc(done);
        }
        let mut raced = false;
        for n in status.missing_parts() {
            let (start, end) = status.part_range(n);
            match send_part(
                client,
                &id,
                n,
                &pending.file,
                (start, end),
                (bar, file_bar),
                &what,
            )
            .await
            {
                Ok(()) => sent += end - start,
                // The part was received after all (an answer lost on the way back, then a
                // retry): parts are never replaced, so ask again what the upload lacks. The
                // session may also be gone: another request (an earlier push of the same
                // bytes whose completion was still running) completed it; asking again
                // then finds the blob stored, or starts a new session.
                Err(e) if matches!(kind_of(&e), Kind::Conflict | Kind::NotFound) => {
                    raced = true;
                    break;
                }
                Err(e) => return Err(e),
            }
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
        }
        if raced {
            continue;
        }
        let url = format!("/api/v1/uploads/{id}/complete");
        match client
            .post_json::<_, UploadStatus>(&url, &serde_json::json!({}), &what)
            .await
        {
            Ok(_) => return Ok(Some(sent)),
            Err(e) if matches!(kind_of(&e), Kind::Conflict | Kind::NotFound) => continue,
            Err(e) if kind_of(&e) == Kind::Integrity => {
                return Err(Failure::new(
                    Kind::Integrity,
                    format!("{what}: the server found a different SHA-256 than this file had when hashed; did it change during the push? Push again."),
                )
                .into());
            }
            Err(e) => return Err(e),
        }
    }
    crate::fail!(
        Other,
        "{what}: the server still lacks parts after sending them twice (or another upload of the same bytes kept ending the session); try again"
    )
}

async fn send_part(
    client: &Client,
    id: &str,
    n: u64,
    file: &Path,
    (start, end): (u64, u64),
    (bar, file_bar): (&ProgressBar, &ProgressBar),
    what: &str,
) -> Result<()> {
    let url = client.url(&format!(
        "/api/v1/uploads/{}/parts/{n}",
        crate::model_ref::encode_segment(id)
    ));
    let len = end - start;
    client
        .send(what, |http| {
            let mut f =
                File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
            f.seek(SeekFrom::Start(start))?;
            let (bar, file_bar) = (bar.clone(), file_bar.clone());
            let stream = read_blocks(f.take(len)).inspect_ok(move |block| {
                bar.inc(block.len() as u64);
                file_bar.inc(block.len() as u64);
            });
            Ok(http
                .put(&url)
                .header(reqwest::header::CONTENT_LENGTH, len)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::wrap_stream(stream)))
        })
        .await?;
    Ok(())
}

/// The reader's bytes in blocks of [`READ_BLOCK`], read on a blocking thread
/// a few blocks ahead of the network.
fn read_blocks(
    mut reader: impl Read + Send + 'static,
) -> impl Stream<Item = std::io::Result<Bytes>> {
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut block = Vec::with_capacity(READ_BLOCK);
            let item = (&mut reader)
                .take(READ_BLOCK as u64)
                .read_to_end(&mut block)
                .map(|_| Bytes::from(block));
            let full = matches!(&item, Ok(b) if b.len() == READ_BLOCK);
            let empty = matches!(&item, Ok(b) if b.is_empty());
            // A closed channel: the request was dropped (a retry, or the end).
            if (!empty && tx.blocking_send(item).is_err()) || !full {
                return;
            }
        }
    });
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
