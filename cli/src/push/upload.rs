//! Uploading blobs: one upload session per blob, its missing parts sent
//! several at once (shared across blobs), then completed. A session survives
//! the client: asking for the same blob again returns it with the parts the
//! server already holds, so an interrupted push resumes where it stopped.

use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use futures::{StreamExt, TryStreamExt};
use granary_core::api::{BlobRef, CreateUploadRequest, UploadStatus};
use indicatif::ProgressBar;
use reqwest::Body;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;
use tokio_util::io::ReaderStream;

use crate::client::Client;
use crate::error::{kind_of, Failure, Kind};
use crate::progress::Reporter;

/// A blob to upload and the local file that holds its bytes.
#[derive(Debug, Clone)]
pub struct PendingBlob {
    pub blob: BlobRef,
    pub file: PathBuf,
}

/// Sends the blobs; answers the number of bytes sent.
pub async fn upload_all(
    client: &Client,
    blobs: Vec<PendingBlob>,
    jobs: usize,
    report: &Reporter,
    bar: &ProgressBar,
) -> Result<u64> {
    let permits = Arc::new(Semaphore::new(jobs));
    let delay = test_delay();
    let sent: Vec<u64> = futures::stream::iter(blobs)
        .map(|b| {
            let permits = permits.clone();
            let file_bar = report.file(&b.file.display().to_string(), b.blob.size);
            async move {
                let sent = upload_one(client, &b, &permits, jobs, (bar, &file_bar), delay).await;
                file_bar.finish_and_clear();
                sent
            }
        })
        .buffer_unordered(jobs.max(2))
        .try_collect()
        .await?;
    Ok(sent.iter().sum())
}

/// A hidden throttle for tests of interrupted pushes: sleep this long after each part.
fn test_delay() -> Option<Duration> {
    std::env::var("GRANARY_TEST_UPLOAD_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

async fn upload_one(
    client: &Client,
    pending: &PendingBlob,
    permits: &Semaphore,
    jobs: usize,
    (bar, file_bar): (&ProgressBar, &ProgressBar),
    delay: Option<Duration>,
) -> Result<u64> {
    let what = format!("uploading {}", pending.file.display());
    let req = CreateUploadRequest { sha256: pending.blob.sha256, size: pending.blob.size };
    let mut sent = 0;
    // Twice at most: a completion that finds parts missing gets them sent again.
    for _ in 0..2 {
        let status: UploadStatus = client.post_json("/api/v1/uploads", &req, &what).await?;
        let Some(id) = status.id.clone().filter(|_| !status.stored) else {
            bar.inc(pending.blob.size);
            return Ok(sent);
        };
        let done: u64 = status.received.iter().map(|&n| { let (a, b) = status.part_range(n); b - a }).sum();
        bar.inc(done);
        file_bar.inc(done);
        let parts = status.missing_parts();
        let sizes: Vec<u64> = futures::stream::iter(parts)
            .map(|n| {
                let (start, end) = status.part_range(n);
                let (id, what) = (&id, &what);
                async move {
                    let _permit = permits.acquire().await.expect("semaphore never closed");
                    send_part(client, id, n, &pending.file, (start, end), (bar, file_bar), what).await?;
                    if let Some(d) = delay {
                        tokio::time::sleep(d).await;
                    }
                    Ok::<u64, anyhow::Error>(end - start)
                }
            })
            .buffer_unordered(jobs)
            .try_collect()
            .await?;
        sent += sizes.iter().sum::<u64>();
        let url = format!("/api/v1/uploads/{id}/complete");
        match client.post_json::<_, UploadStatus>(&url, &serde_json::json!({}), &what).await {
            Ok(_) => return Ok(sent),
            Err(e) if kind_of(&e) == Kind::Conflict => continue,
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
    crate::fail!(Other, "{what}: the server still lacks parts after sending them twice; try again")
}

async fn send_part(
    client: &Client,
    id: &str,
    n: u64,
    file: &PathBuf,
    (start, end): (u64, u64),
    (bar, file_bar): (&ProgressBar, &ProgressBar),
    what: &str,
) -> Result<()> {
    let url = client.url(&format!("/api/v1/uploads/{}/parts/{n}", crate::model_ref::encode_segment(id)));
    let len = end - start;
    client
        .send(what, |http| {
            let mut f = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
            f.seek(SeekFrom::Start(start))?;
            let reader = tokio::fs::File::from_std(f).take(len);
            let (bar, file_bar) = (bar.clone(), file_bar.clone());
            let stream = ReaderStream::with_capacity(reader, 256 << 10).inspect_ok(move |chunk| {
                bar.inc(chunk.len() as u64);
                file_bar.inc(chunk.len() as u64);
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
