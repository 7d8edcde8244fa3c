//! The object store: blobs and staged upload parts, over any `object_store`
//! backend chosen by URL (`file://`, `memory://`, `s3://`).
//!
//! Layout (every key is built by [`Key`]):
//!
//! ```text
//! blobs/sha256/ab/abcdef…                     a blob stored in one part
//! blobs/sha256/ab/abcdef….parts/<size>/<n>    part n of a blob stored in parts of <size> bytes
//! uploads/<session-id>/<n>.<attempt>          part n of an upload session, as one attempt sent it
//! uploads/<staging-id>/<n>                    part n of bytes being staged in one stream
//! ```
//!
//! Each attempt at sending a session's part streams into its own object, and the
//! database records which attempt's object is the part: a replayed or racing
//! attempt can never overwrite bytes that were already hashed.
//!
//! Blob bytes never change: a key under `blobs/` is written only after its
//! content was checked, and rewriting it can only write the same bytes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use granary_core::Sha256;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, WriteMultipart};

use crate::config::S3Config;

/// How a stored blob is laid out in objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLayout {
    pub sha256: Sha256,
    pub size: u64,
    pub part_size: u64,
    pub part_count: u64,
}

impl BlobLayout {
    /// The number of parts a blob of `size` bytes has with parts of `part_size`.
    pub fn part_count(size: u64, part_size: u64) -> u64 {
        size.div_ceil(part_size).max(1)
    }

    /// The byte range of part `n` within the blob.
    pub fn part_range(&self, n: u64) -> Range<u64> {
        let start = n * self.part_size;
        start..(start + self.part_size).min(self.size)
    }
}

/// Every object key, in one place.
pub enum Key<'a> {
    BlobPart(&'a BlobLayout, u64),
    UploadPart(&'a str, u64),
    /// Part `n` of an upload session as attempt `attempt` sent it.
    UploadAttempt(&'a str, u64, &'a str),
    UploadDir(&'a str),
    /// A Xet xorb, by its hash (the chunks as the client sent them).
    Xorb(&'a str),
}

impl Key<'_> {
    pub fn path(&self) -> Path {
        match self {
            Key::BlobPart(layout, n) => {
                let hex = layout.sha256.hex();
                if layout.part_count == 1 {
                    Path::from(format!("blobs/sha256/{}/{hex}", &hex[..2]))
                } else {
                    Path::from(format!(
                        "blobs/sha256/{}/{hex}.parts/{}/{n}",
                        &hex[..2],
                        layout.part_size
                    ))
                }
            }
            Key::UploadPart(id, n) => Path::from(format!("uploads/{id}/{n}")),
            Key::UploadAttempt(id, n, attempt) => Path::from(format!("uploads/{id}/{n}.{attempt}")),
            Key::UploadDir(id) => Path::from(format!("uploads/{id}")),
            Key::Xorb(hash) => Path::from(format!("xet/xorbs/{}/{hash}", &hash[..2])),
        }
    }
}

/// The registry's object store.
#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Signs download URLs, when the backend can (S3).
    signer: Option<Arc<UrlSigner>>,
}

/// An S3 client used only to sign URLs, and the prefix the store's keys live under.
#[derive(Debug)]
struct UrlSigner {
    s3: object_store::aws::AmazonS3,
    prefix: Path,
}

/// Bytes written to the store per multipart chunk (S3's smallest part), and how
/// many chunks may be in flight per upload: with a few uploads at once, the
/// server's memory stays well under 100 MiB.
const WRITE_CHUNK: usize = 5 * 1024 * 1024;
const WRITES_IN_FLIGHT: usize = 2;

/// Writes one object in `WRITE_CHUNK` pieces, a few in flight at once, so that
/// no buffer of the object's size is ever held (nor, above jemalloc's 8 MiB
/// "oversize" threshold, handed back to the kernel and faulted in again).
pub struct ObjectWriter {
    inner: WriteMultipart,
    written: u64,
}

impl ObjectWriter {
    pub async fn write(&mut self, bytes: Bytes) -> object_store::Result<()> {
        self.inner.wait_for_capacity(WRITES_IN_FLIGHT).await?;
        self.written += bytes.len() as u64;
        self.inner.put(bytes);
        Ok(())
    }

    /// How many bytes were written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub async fn finish(self) -> object_store::Result<()> {
        self.inner.finish().await.map(|_| ())
    }

    /// Gives up, leaving nothing at the key.
    pub async fn abort(self) {
        let _ = self.inner.abort().await;
    }
}

impl Storage {
    /// Opens the store a URL names: `file:///abs/path`, `memory://`, `s3://bucket/prefix`,
    /// with S3 settings from the `AWS_*` environment variables only.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        Self::open(url, &S3Config::default())
    }

    /// Opens the store a URL names; an `s3://` store takes `s3`'s settings over the `AWS_*`
    /// environment variables.
    pub fn open(url: &str, s3: &S3Config) -> anyhow::Result<Self> {
        let mut signer = None;
        let store: Arc<dyn ObjectStore> = if let Some(path) = url.strip_prefix("file://") {
            std::fs::create_dir_all(path)?;
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(path)?)
        } else if url == "memory://" || url == "memory:///" {
            Arc::new(object_store::memory::InMemory::new())
        } else if url.starts_with("s3://") {
            let parsed = url::Url::parse(url)?;
            let bucket = parsed.host_str().unwrap_or_default().to_string();
            let prefix = parsed.path().trim_matches('/').to_string();
            let store = s3_builder(&bucket, s3, s3.s3_endpoint.as_deref()).build()?;
            let signing = match &s3.s3_presign_endpoint {
                Some(public) => s3_builder(&bucket, s3, Some(public)).build()?,
                None => store.clone(),
            };
            signer = Some(Arc::new(UrlSigner {
                s3: signing,
                prefix: Path::from(prefix.as_str()),
            }));
            if prefix.is_empty() {
                Arc::new(store)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            }
        } else {
            anyhow::bail!(
                "unsupported storage URL `{url}`: use file:///PATH, memory:// or s3://BUCKET/PREFIX"
            );
        };
        Ok(Self { store, signer })
    }

    /// Whether [`Storage::signed_get_url`] can sign URLs (S3).
    pub fn can_sign(&self) -> bool {
        self.signer.is_some()
    }

    /// A URL that lets anyone GET the object at `key` for `ttl`, when the backend can sign.
    pub async fn signed_get_url(
        &self,
        key: &Path,
        ttl: std::time::Duration,
    ) -> Option<object_store::Result<url::Url>> {
        use object_store::signer::Signer as _;
        let signer = self.signer.as_ref()?;
        let full: Path = signer.prefix.parts().chain(key.parts()).collect();
        Some(
            signer
                .s3
                .signed_url(axum::http::Method::GET, &full, ttl)
                .await,
        )
    }

    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Streams `body` into the object at `key`, refusing it unless exactly
    /// `expected` bytes arrive. Nothing is left at `key` on failure.
    pub async fn put_stream_exact<E>(
        &self,
        key: &Path,
        expected: u64,
        body: BoxStream<'_, Result<Bytes, E>>,
    ) -> Result<(), PutError>
    where
        E: std::fmt::Display,
    {
        self.put_stream_within(key, expected, true, body)
            .await
            .map(|_| ())
    }

    /// Streams `body` into the object at `key`, refusing it past `max` bytes;
    /// how many were written. Nothing is left at `key` on failure.
    pub async fn put_stream<E>(
        &self,
        key: &Path,
        max: u64,
        body: BoxStream<'_, Result<Bytes, E>>,
    ) -> Result<u64, PutError>
    where
        E: std::fmt::Display,
    {
        self.put_stream_within(key, max, false, body).await
    }

    async fn put_stream_within<E>(
        &self,
        key: &Path,
        expected: u64,
        exact: bool,
        mut body: BoxStream<'_, Result<Bytes, E>>,
    ) -> Result<u64, PutError>
    where
        E: std::fmt::Display,
    {
        let mut writer = self.writer(key).await.map_err(PutError::Store)?;
        let outcome = loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    if writer.written() + chunk.len() as u64 > expected {
                        break Err(PutError::TooLong { expected });
                    }
                    if let Err(e) = writer.write(chunk).await {
                        break Err(PutError::Store(e));
                    }
                }
                Some(Err(e)) => break Err(PutError::Body(e.to_string())),
                None if exact && writer.written() != expected => {
                    let received = writer.written();
                    break Err(PutError::TooShort { expected, received });
                }
                None => break Ok(()),
            }
        };
        match outcome {
            Ok(()) => {
                let written = writer.written();
                writer.finish().await.map_err(PutError::Store)?;
                Ok(written)
            }
            Err(e) => {
                writer.abort().await;
                Err(e)
            }
        }
    }

    /// A writer of the object at `key`, which appears whole once finished.
    pub async fn writer(&self, key: &Path) -> object_store::Result<ObjectWriter> {
        let upload = self.store.put_multipart(key).await?;
        Ok(ObjectWriter {
            inner: WriteMultipart::new_with_chunk_size(upload, WRITE_CHUNK),
            written: 0,
        })
    }

    /// Writes a small object whole (atomically: readers see all of it or nothing).
    pub async fn put(&self, key: &Path, bytes: Bytes) -> object_store::Result<()> {
        self.store.put(key, bytes.into()).await.map(|_| ())
    }

    /// Streams the bytes `range` of an object.
    pub async fn get_range_stream(
        &self,
        key: &Path,
        range: Range<u64>,
    ) -> object_store::Result<BoxStream<'static, object_store::Result<Bytes>>> {
        if range.is_empty() {
            return Ok(stream::empty().boxed());
        }
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..Default::default()
        };
        let got = self.store.get_opts(key, opts).await?;
        Ok(match got.payload {
            GetResultPayload::File(file, path) => file_stream(file, path, got.range),
            GetResultPayload::Stream(s) => s,
        })
    }

    /// Streams the bytes `range` of a blob, across its parts.
    pub fn blob_range_stream(
        &self,
        layout: BlobLayout,
        range: Range<u64>,
    ) -> BoxStream<'static, object_store::Result<Bytes>> {
        let this = self.clone();
        let parts: Vec<(u64, Range<u64>)> = if range.is_empty() {
            Vec::new()
        } else {
            let first = range.start / layout.part_size;
            let last = (range.end - 1) / layout.part_size;
            (first..=last)
                .map(|n| {
                    let part = layout.part_range(n);
                    let start = range.start.max(part.start) - part.start;
                    let end = range.end.min(part.end) - part.start;
                    (n, start..end)
                })
                .collect()
        };
        stream::iter(parts)
            .then(move |(n, within)| {
                let this = this.clone();
                async move {
                    this.get_range_stream(&Key::BlobPart(&layout, n).path(), within)
                        .await
                }
            })
            .try_flatten()
            .boxed()
    }

    /// Reads a small range of a blob into memory (headers, front matter).
    pub async fn read_blob_range(
        &self,
        layout: BlobLayout,
        range: Range<u64>,
    ) -> object_store::Result<Vec<u8>> {
        let mut out = Vec::with_capacity((range.end - range.start) as usize);
        let mut s = self.blob_range_stream(layout, range);
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    pub async fn rename(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.store.rename(from, to).await
    }

    pub async fn delete_quietly(&self, key: &Path) {
        if let Err(e) = self.store.delete(key).await
            && !matches!(e, object_store::Error::NotFound { .. })
        {
            tracing::warn!(key = %key, error = %e, "could not delete object");
        }
    }

    /// Deletes every object under a prefix.
    pub async fn delete_prefix(&self, prefix: &Path) -> object_store::Result<()> {
        let keys: Vec<Path> = self
            .store
            .list(Some(prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        for key in keys {
            self.delete_quietly(&key).await;
        }
        Ok(())
    }

    pub async fn exists(&self, key: &Path) -> object_store::Result<bool> {
        match self.store.head(key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Bytes per read when streaming a local file. (object_store's own stream of a
/// local file reads 8 KiB per blocking task, which caps a download well below
/// what the disk and the socket can do.)
const FILE_READ_CHUNK: u64 = 1 << 20;

/// Streams `range` of a local file, read ahead by one blocking thread in large
/// chunks; one chunk waits for the consumer while the next is read.
fn file_stream(
    file: File,
    path: PathBuf,
    range: Range<u64>,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::task::spawn_blocking(move || {
        let error = |e: std::io::Error| object_store::Error::Generic {
            store: "LocalFileSystem",
            source: format!("reading {}: {e}", path.display()).into(),
        };
        let mut file = file;
        if let Err(e) = file.seek(SeekFrom::Start(range.start)) {
            let _ = tx.blocking_send(Err(error(e)));
            return;
        }
        let mut left = range.end - range.start;
        while left > 0 {
            let want = left.min(FILE_READ_CHUNK);
            let mut buf = Vec::with_capacity(want as usize);
            let chunk = match (&mut file).take(want).read_to_end(&mut buf) {
                Ok(n) if n as u64 == want => Ok(Bytes::from(buf)),
                Ok(_) => Err(error(std::io::ErrorKind::UnexpectedEof.into())),
                Err(e) => Err(error(e)),
            };
            let failed = chunk.is_err();
            // A closed channel: the consumer went away (the client hung up).
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
            left -= want;
        }
    });
    stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    })
    .boxed()
}

/// An S3 client builder: the `AWS_*` variables, then `s3`'s settings, against `endpoint`.
fn s3_builder(
    bucket: &str,
    s3: &S3Config,
    endpoint: Option<&str>,
) -> object_store::aws::AmazonS3Builder {
    let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = endpoint {
        b = b.with_endpoint(endpoint);
        if endpoint.starts_with("http://") {
            b = b.with_allow_http(true);
        }
    }
    if let Some(region) = &s3.s3_region {
        b = b.with_region(region);
    }
    if let Some(key) = &s3.s3_access_key_id {
        b = b.with_access_key_id(key);
    }
    if let Some(secret) = &s3.s3_secret_access_key {
        b = b.with_secret_access_key(secret);
    }
    if s3.s3_virtual_hosted {
        b = b.with_virtual_hosted_style_request(true);
    }
    if s3.s3_allow_http {
        b = b.with_allow_http(true);
    }
    b
}

/// Why streaming a body into the store failed.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error("the body is longer than the {expected} bytes expected")]
    TooLong { expected: u64 },
    #[error("the body ended after {received} of the {expected} bytes expected")]
    TooShort { expected: u64, received: u64 },
    #[error("reading the request body failed: {0}")]
    Body(String),
    #[error(transparent)]
    Store(object_store::Error),
}
