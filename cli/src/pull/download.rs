//! Downloading one blob into the cache: the file is fetched in chunks (Range
//! requests, a few at once), and the chunks are handed on in order to a
//! writer thread (which writes them into `partial/<sha256>` and logs each in
//! `partial/<sha256>.chunks`) and to a hashing thread, so every byte is hashed
//! once, from memory, as it is written: the digest is ready as the last chunk
//! lands. A killed pull resumes after the logged prefix of chunks (hashing
//! only that prefix back from disk). Only a file whose SHA-256 matches is moved
//! into the cache.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use futures::StreamExt;
use granary_core::{Sha256, Sha256Hasher};
use indicatif::ProgressBar;
use tokio::sync::{Semaphore, mpsc};

use crate::cache::BlobCache;
use crate::client::{Client, TRIES, backoff, describe};
use crate::error::{Failure, Kind};

/// The largest chunk of a ranged download; smaller files get smaller chunks
/// so that even they are fetched a few ranges at once.
pub const MAX_CHUNK: u64 = 8 << 20;
const MIN_CHUNK: u64 = 1 << 20;

/// How downloads are made.
pub struct Fetcher<'a> {
    pub client: &'a Client,
    pub cache: &'a BlobCache,
    pub permits: &'a Semaphore,
    /// Chunks of one file in flight at once (the permits bound the total). At
    /// most this many chunks of a file wait in memory for the writer.
    pub jobs: usize,
    /// `GRANARY_CHUNK_SIZE`, for tests; else sized to each file.
    pub chunk: Option<u64>,
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

/// Chunk size override and test throttle from the environment.
pub fn tuning() -> (Option<u64>, Option<Duration>) {
    let chunk = std::env::var("GRANARY_CHUNK_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&c: &u64| c >= 4096);
    let delay = std::env::var("GRANARY_TEST_DOWNLOAD_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis);
    (chunk, delay)
}

impl Fetcher<'_> {
    /// Fetches, verifies and caches one blob; answers its cache path and the bytes downloaded.
    pub async fn fetch(
        &self,
        want: &Wanted,
        bar: &ProgressBar,
        file_bar: &ProgressBar,
    ) -> Result<(PathBuf, u64)> {
        let (got, resumed) = self.fetch_once(want, bar, file_bar).await?;
        match got {
            Ok(path) => Ok((path, resumed.1)),
            // A resumed partial file may have been damaged meanwhile: start over once.
            Err(_) if resumed.0 => {
                let (data, log) = self.cache.partial_paths(&want.sha256);
                let _ = (fs::remove_file(data), fs::remove_file(log));
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
        let chunk = self.chunk.unwrap_or_else(|| chunk_for(want.size));
        let (data_path, log_path) = self.cache.partial_paths(&want.sha256);
        let done = open_partial(&data_path, &log_path, want.size, chunk)?;
        let chunks = want.size.div_ceil(chunk);
        let resumed = done > 0;
        let already = (done * chunk).min(want.size);
        bar.inc(already);
        file_bar.inc(already);

        // The hasher first reads back what an earlier run wrote, then follows the writer.
        // Whole chunks travel to the threads (a wake-up per chunk, not per piece).
        let (hash_tx, mut hash_rx) = mpsc::channel::<Arc<Vec<Bytes>>>(4);
        let hasher = {
            let path = data_path.clone();
            tokio::task::spawn_blocking(move || -> Result<Sha256> {
                let mut hasher = Sha256Hasher::new();
                hash_prefix(&path, already, &mut hasher)?;
                while let Some(pieces) = hash_rx.blocking_recv() {
                    pieces.iter().for_each(|bytes| hasher.update(bytes));
                }
                Ok(hasher.finish())
            })
        };
        let (write_tx, mut write_rx) = mpsc::channel::<(u64, Arc<Vec<Bytes>>)>(4);
        let writer = {
            let data = File::options().write(true).open(&data_path)?;
            let mut log = OpenOptions::new().append(true).open(&log_path)?;
            tokio::task::spawn_blocking(move || -> Result<()> {
                let mut offset = already;
                while let Some((n, pieces)) = write_rx.blocking_recv() {
                    for bytes in pieces.iter() {
                        write_at(&data, bytes, offset)?;
                        offset += bytes.len() as u64;
                    }
                    writeln!(log, "{n}")?;
                }
                Ok(())
            })
        };

        // Chunks are fetched `jobs` at once but handed on strictly in order.
        let mut in_order = futures::stream::iter(done..chunks)
            .map(|n| async move {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .expect("semaphore never closed");
                let (start, end) = range(n, chunk, want.size);
                let pieces = self.get_range(want, start, end, bar, file_bar).await?;
                Ok::<_, anyhow::Error>((n, pieces))
            })
            .buffered(self.jobs.max(1));
        let mut fetched = 0;
        let mut failed = None;
        while let Some(next) = in_order.next().await {
            let (n, pieces) = match next {
                Ok(v) => v,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            fetched += pieces.iter().map(|b| b.len() as u64).sum::<u64>();
            let pieces = Arc::new(pieces);
            // A closed channel means its thread failed; its error is reported below.
            let _ = hash_tx.send(pieces.clone()).await;
            let _ = write_tx.send((n, pieces)).await;
            if let Some(d) = self.delay {
                tokio::time::sleep(d).await;
            }
        }
        drop(in_order);
        drop((hash_tx, write_tx));
        writer
            .await
            .context("the writing thread failed")?
            .with_context(|| format!("cannot write {}", data_path.display()))?;
        let digest = hasher.await.context("the hashing thread failed")??;
        if let Some(e) = failed {
            return Err(e);
        }
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

    /// GETs bytes `[start, end)` into memory, retrying broken transfers.
    async fn get_range(
        &self,
        want: &Wanted,
        start: u64,
        end: u64,
        bar: &ProgressBar,
        file_bar: &ProgressBar,
    ) -> Result<Vec<Bytes>> {
        let what = format!("cannot download {}", want.name);
        let mut last = String::new();
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let resp = self
                .client
                .send(&what, |http| {
                    Ok(http
                        .get(&want.url)
                        .header(reqwest::header::RANGE, format!("bytes={start}-{}", end - 1)))
                })
                .await?;
            let whole = resp.status() == reqwest::StatusCode::OK;
            if whole && !(start == 0 && end == want.size) {
                crate::fail!(Other, "{what}: the server ignored the Range request");
            }
            let mut pieces = Vec::new();
            let mut got = 0u64;
            let mut body = resp.bytes_stream();
            let mut broken = None;
            while let Some(piece) = body.next().await {
                match piece {
                    Ok(bytes) => {
                        got += bytes.len() as u64;
                        if start + got > end {
                            crate::fail!(Other, "{what}: the server sent more bytes than asked");
                        }
                        bar.inc(bytes.len() as u64);
                        file_bar.inc(bytes.len() as u64);
                        pieces.push(bytes);
                    }
                    Err(e) => {
                        broken = Some(describe(&e));
                        break;
                    }
                }
            }
            if start + got == end && broken.is_none() {
                return Ok(pieces);
            }
            bar.set_position(bar.position().saturating_sub(got));
            file_bar.set_position(file_bar.position().saturating_sub(got));
            last = broken.unwrap_or_else(|| format!("got {got} of {} bytes", end - start));
        }
        crate::fail!(
            Network,
            "{what}: the transfer kept breaking ({last}) after {TRIES} tries; run the same pull again to resume"
        )
    }
}

/// A quarter of the file, between 1 and 8 MiB, so a file is fetched a few ranges at once.
fn chunk_for(size: u64) -> u64 {
    size.div_ceil(4).clamp(MIN_CHUNK, MAX_CHUNK)
}

fn range(n: u64, chunk: u64, size: u64) -> (u64, u64) {
    let start = n * chunk;
    (start, (start + chunk).min(size))
}

/// Hashes the first `len` bytes of the file (what an interrupted pull wrote).
fn hash_prefix(path: &Path, len: u64, hasher: &mut Sha256Hasher) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    let mut file = File::open(path)?.take(len);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
    }
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

/// Opens (or starts) a partial download; answers how many chunks from the
/// start are already written. The log's first line is the chunk size; a log
/// of another chunk size, or a data file of the wrong length, starts over.
fn open_partial(data: &Path, log: &Path, size: u64, chunk: u64) -> Result<u64> {
    let header = format!("chunk {chunk}");
    let mut done = std::collections::BTreeSet::new();
    let data_ok = fs::metadata(data).map(|m| m.len() == size).unwrap_or(false);
    if let Some(f) = File::open(log).ok().filter(|_| data_ok) {
        let mut lines = BufReader::new(f).lines();
        if lines.next().and_then(|l| l.ok()).as_deref() == Some(header.as_str()) {
            // A line cut off by a kill does not parse and is ignored.
            done.extend(
                lines
                    .map_while(|l| l.ok())
                    .filter_map(|l| l.trim().parse::<u64>().ok()),
            );
        }
    }
    // Chunks are written in order; only the unbroken prefix counts.
    let prefix = (0..).take_while(|n| done.contains(n)).count() as u64;
    if prefix == 0 {
        let f = File::create(data).with_context(|| format!("cannot create {}", data.display()))?;
        f.set_len(size)?;
        fs::write(log, format!("{header}\n"))?;
    } else {
        // Forget chunks past the prefix, so the log stays in order.
        let lines: String = (0..prefix).map(|n| format!("{n}\n")).collect();
        fs::write(log, format!("{header}\n{lines}"))?;
    }
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_download_resumes_after_its_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let (data, log) = (dir.path().join("d"), dir.path().join("d.chunks"));
        assert_eq!(open_partial(&data, &log, 100, 10).unwrap(), 0);
        assert_eq!(fs::metadata(&data).unwrap().len(), 100);
        fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(b"0\n1\n3\n2\n7\n1")
            .unwrap();
        assert_eq!(open_partial(&data, &log, 100, 10).unwrap(), 4);
        assert_eq!(fs::read_to_string(&log).unwrap(), "chunk 10\n0\n1\n2\n3\n");
        // Another chunk size: start over.
        assert_eq!(open_partial(&data, &log, 100, 20).unwrap(), 0);
    }

    #[test]
    fn chunks_are_sized_to_the_file() {
        assert_eq!(chunk_for(100), MIN_CHUNK);
        assert_eq!(chunk_for(8 << 20), 2 << 20);
        assert_eq!(chunk_for(1 << 30), MAX_CHUNK);
    }

    #[test]
    fn a_resumed_prefix_is_hashed_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d");
        let body: Vec<u8> = (0..95u8).collect();
        fs::write(&path, &body).unwrap();
        let mut hasher = Sha256Hasher::new();
        hash_prefix(&path, 40, &mut hasher).unwrap();
        hasher.update(&body[40..]);
        assert_eq!(hasher.finish(), Sha256::of(&body));
    }
}
