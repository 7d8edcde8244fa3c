//! Downloading one blob into the cache: the file is fetched in chunks (Range
//! requests, several at once), written in place into `partial/<sha256>`, and
//! each finished chunk is logged in `partial/<sha256>.chunks` so a killed pull
//! resumes with the chunks it lacks. A hashing thread follows the contiguous
//! prefix of finished chunks, so the digest is ready as the last chunk lands;
//! only a file whose SHA-256 matches is moved into the cache.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use futures::{StreamExt, TryStreamExt};
use granary_core::{Sha256, Sha256Hasher};
use indicatif::ProgressBar;
use tokio::sync::Semaphore;

use crate::cache::BlobCache;
use crate::client::{backoff, describe, Client, TRIES};
use crate::error::{Failure, Kind};

/// Chunk size of ranged downloads (override: `GRANARY_CHUNK_SIZE`, for tests).
pub const DEFAULT_CHUNK: u64 = 16 << 20;

/// How downloads are made.
pub struct Fetcher<'a> {
    pub client: &'a Client,
    pub cache: &'a BlobCache,
    pub permits: &'a Semaphore,
    /// Chunks of one file in flight at once (the permits bound the total).
    pub jobs: usize,
    pub chunk: u64,
    pub delay: Option<Duration>,
}

/// One file to fetch.
pub struct Wanted {
    pub sha256: Sha256,
    pub size: u64,
    /// The absolute URL of the file at a full revision id.
    pub url: String,
    pub name: String,
}

/// Chunk size and test throttle from the environment.
pub fn tuning() -> (u64, Option<Duration>) {
    let chunk = std::env::var("GRANARY_CHUNK_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&c: &u64| c >= 4096)
        .unwrap_or(DEFAULT_CHUNK);
    let delay = std::env::var("GRANARY_TEST_DOWNLOAD_DELAY_MS").ok().and_then(|v| v.parse().ok()).map(Duration::from_millis);
    (chunk, delay)
}

impl Fetcher<'_> {
    /// Fetches, verifies and caches one blob; answers its cache path and the bytes downloaded.
    pub async fn fetch(&self, want: &Wanted, bar: &ProgressBar, file_bar: &ProgressBar) -> Result<(PathBuf, u64)> {
        let (got, resumed) = self.fetch_once(want, bar, file_bar).await?;
        match got {
            Ok(path) => Ok((path, resumed.1)),
            // A resumed partial file may have been damaged meanwhile: start over once.
            Err(_) if resumed.0 => {
                let (got, again) = self.fetch_once(want, bar, file_bar).await?;
                got.map(|p| (p, resumed.1 + again.1)).map_err(Into::into)
            }
            Err(f) => Err(f.into()),
        }
    }

    /// `((verified path | integrity failure), (resumed?, bytes downloaded))`.
    async fn fetch_once(
        &self,
        want: &Wanted,
        bar: &ProgressBar,
        file_bar: &ProgressBar,
    ) -> Result<(Result<PathBuf, Failure>, (bool, u64))> {
        fs::create_dir_all(self.cache.partial_dir())?;
        let (data_path, log_path) = self.cache.partial_paths(&want.sha256);
        let done = open_partial(&data_path, &log_path, want.size, self.chunk)?;
        let chunks = want.size.div_ceil(self.chunk);
        let resumed = !done.is_empty();
        let already: u64 = done.iter().map(|&n| self.range(n, want.size).1 - self.range(n, want.size).0).sum();
        bar.inc(already);
        file_bar.inc(already);

        let (tx, rx) = mpsc::channel::<u64>();
        let hasher = {
            let (path, size, chunk, done) = (data_path.clone(), want.size, self.chunk, done.clone());
            tokio::task::spawn_blocking(move || follow_and_hash(&path, size, chunk, done, rx))
        };
        let data = File::options().write(true).open(&data_path)?;
        let log = Mutex::new(OpenOptions::new().append(true).open(&log_path)?);
        let todo: Vec<u64> = (0..chunks).filter(|n| !done.contains(n)).collect();
        let results: Result<Vec<u64>> = futures::stream::iter(todo)
            .map(|n| {
                let (data, log, tx) = (&data, &log, tx.clone());
                async move {
                    let _permit = self.permits.acquire().await.expect("semaphore never closed");
                    let (start, end) = self.range(n, want.size);
                    self.get_range(want, data, start, end, bar, file_bar).await?;
                    writeln!(log.lock().unwrap_or_else(|e| e.into_inner()), "{n}")?;
                    let _ = tx.send(n);
                    if let Some(d) = self.delay {
                        tokio::time::sleep(d).await;
                    }
                    Ok(end - start)
                }
            })
            .buffer_unordered(self.jobs.max(1))
            .try_collect()
            .await;
        drop(tx);
        let fetched: u64 = results?.iter().sum();
        let digest = hasher.await.context("the hashing thread failed")??;
        drop(data);
        if digest != want.sha256 {
            let _ = fs::remove_file(&data_path);
            let _ = fs::remove_file(&log_path);
            let f = Failure::new(
                Kind::Integrity,
                format!(
                    "{} failed verification: expected SHA-256 {}, got {digest}; nothing was kept, pull again",
                    want.name, want.sha256
                ),
            );
            return Ok((Err(f), (resumed, fetched)));
        }
        let path = self.cache.insert_verified(&want.sha256, &data_path)?;
        let _ = fs::remove_file(&log_path);
        Ok((Ok(path), (resumed, fetched)))
    }

    fn range(&self, n: u64, size: u64) -> (u64, u64) {
        let start = n * self.chunk;
        (start, (start + self.chunk).min(size))
    }

    /// GETs bytes `[start, end)` and writes them at their offset, retrying broken transfers.
    async fn get_range(
        &self,
        want: &Wanted,
        data: &File,
        start: u64,
        end: u64,
        bar: &ProgressBar,
        file_bar: &ProgressBar,
    ) -> Result<()> {
        let what = format!("cannot download {}", want.name);
        let mut last = String::new();
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let resp = self
                .client
                .send(&what, |http| Ok(http.get(&want.url).header(reqwest::header::RANGE, format!("bytes={start}-{}", end - 1))))
                .await?;
            let whole = resp.status() == reqwest::StatusCode::OK;
            if whole && !(start == 0 && end == want.size) {
                crate::fail!(Other, "{what}: the server ignored the Range request");
            }
            let mut offset = start;
            let mut buf = Vec::with_capacity(1 << 20);
            let mut body = resp.bytes_stream();
            let mut broken = None;
            while let Some(piece) = body.next().await {
                match piece {
                    Ok(bytes) => {
                        if offset + (buf.len() + bytes.len()) as u64 > end {
                            crate::fail!(Other, "{what}: the server sent more bytes than asked");
                        }
                        buf.extend_from_slice(&bytes);
                        if buf.len() >= 1 << 20 {
                            offset = flush(data, &mut buf, offset)?;
                        }
                        bar.inc(bytes.len() as u64);
                        file_bar.inc(bytes.len() as u64);
                    }
                    Err(e) => {
                        broken = Some(describe(&e));
                        break;
                    }
                }
            }
            offset = flush(data, &mut buf, offset)?;
            if offset == end && broken.is_none() {
                return Ok(());
            }
            let lost = offset - start;
            bar.set_position(bar.position().saturating_sub(lost));
            file_bar.set_position(file_bar.position().saturating_sub(lost));
            last = broken.unwrap_or_else(|| format!("got {} of {} bytes", offset - start, end - start));
        }
        crate::fail!(Network, "{what}: the transfer kept breaking ({last}) after {TRIES} tries; run the same pull again to resume")
    }
}

fn flush(data: &File, buf: &mut Vec<u8>, offset: u64) -> Result<u64> {
    if buf.is_empty() {
        return Ok(offset);
    }
    tokio::task::block_in_place(|| write_at(data, buf, offset))?;
    let next = offset + buf.len() as u64;
    buf.clear();
    Ok(next)
}

#[cfg(unix)]
fn write_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(not(unix))]
fn write_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(buf)
}

/// Opens (or starts) a partial download; answers the chunks already received.
/// The log's first line is the chunk size; a log of another chunk size, or a
/// data file of the wrong length, starts the download over.
fn open_partial(data: &Path, log: &Path, size: u64, chunk: u64) -> Result<BTreeSet<u64>> {
    let header = format!("chunk {chunk}");
    let mut done = BTreeSet::new();
    let data_ok = fs::metadata(data).map(|m| m.len() == size).unwrap_or(false);
    if let Some(f) = File::open(log).ok().filter(|_| data_ok) {
        let mut lines = BufReader::new(f).lines();
        if lines.next().and_then(|l| l.ok()).as_deref() == Some(header.as_str()) {
            // A line cut off by a kill does not parse and is ignored.
            done.extend(lines.map_while(|l| l.ok()).filter_map(|l| l.trim().parse::<u64>().ok()));
        }
    }
    if done.is_empty() {
        let f = File::create(data).with_context(|| format!("cannot create {}", data.display()))?;
        f.set_len(size)?;
        fs::write(log, format!("{header}\n"))?;
    }
    Ok(done)
}

/// Hashes the file's contiguous prefix of finished chunks as it grows.
fn follow_and_hash(path: &Path, size: u64, chunk: u64, mut done: BTreeSet<u64>, rx: mpsc::Receiver<u64>) -> Result<Sha256> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let chunks = size.div_ceil(chunk);
    let mut next = 0u64; // first chunk not yet hashed
    loop {
        while next < chunks && done.contains(&next) {
            let len = (chunk.min(size - next * chunk)) as usize;
            let mut left = len;
            while left > 0 {
                let n = left.min(buf.len());
                file.read_exact(&mut buf[..n])?;
                hasher.update(&buf[..n]);
                left -= n;
            }
            done.remove(&next);
            next += 1;
        }
        if next == chunks {
            return Ok(hasher.finish());
        }
        match rx.recv() {
            Ok(n) => {
                done.insert(n);
            }
            // The downloads stopped early; the caller reports why.
            Err(_) => return Ok(hasher.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_download_remembers_its_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let (data, log) = (dir.path().join("d"), dir.path().join("d.chunks"));
        assert!(open_partial(&data, &log, 100, 10).unwrap().is_empty());
        assert_eq!(fs::metadata(&data).unwrap().len(), 100);
        fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(b"3\n0\n7").unwrap();
        assert_eq!(open_partial(&data, &log, 100, 10).unwrap(), BTreeSet::from([0, 3, 7]));
        // Another chunk size: start over.
        assert!(open_partial(&data, &log, 100, 20).unwrap().is_empty());
    }

    #[test]
    fn the_follower_hashes_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d");
        let body: Vec<u8> = (0..95u8).collect();
        fs::write(&path, &body).unwrap();
        let (tx, rx) = mpsc::channel();
        for n in [9, 3, 0, 1, 2, 4, 5, 6, 7, 8] {
            tx.send(n).unwrap();
        }
        let d = follow_and_hash(&path, 95, 10, BTreeSet::new(), rx).unwrap();
        assert_eq!(d, Sha256::of(&body));
    }
}
