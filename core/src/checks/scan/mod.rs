//! Refusing files that Python runs code from when it loads them: pickle
//! streams of any protocol (`pickle`), zip archives that hold one — PyTorch
//! checkpoints, joblib dumps, `.npz` files of object arrays (`zip`) — and
//! NumPy arrays of Python objects (`npy`).
//!
//! `scan` reads bounded ranges of a file, whatever its size: the first
//! 64 KiB; for a pickle walk, windows of 64 KiB up to 8 MiB in all; the last
//! 64 KiB + 22 bytes; a central directory of at most 16 MiB; and a few KiB of
//! each zip member (at most 1024 of them).

pub mod npy;
pub mod pickle;
pub mod zip;

use std::fmt;
use std::ops::Range;

use pickle::{Recogniser, Walk};

/// The bytes read at a time: the head of a file, and each window of a
/// pickle walk.
pub const WINDOW: u64 = 64 * 1024;

/// The most bytes a pickle walk reads before it calls the stream a pickle:
/// only pickles stay valid that long.
const PICKLE_BUDGET: u64 = 8 * 1024 * 1024;

/// The most windows a pickle walk reads (each long string it steps over costs one).
const PICKLE_WINDOWS: u32 = 128;

/// Random access to a stored file's bytes.
// The server calls `scan` with concrete sources, whose futures are `Send`
// when their `read`s are; no caller needs a `Send` bound on the trait.
#[allow(async_fn_in_trait)]
pub trait ByteSource {
    type Error;

    /// The file's length in bytes.
    fn len(&self) -> u64;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes in `range`, which lies within the file.
    async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, Self::Error>;
}

/// Bytes in memory, for tests and small files.
impl ByteSource for [u8] {
    type Error = std::convert::Infallible;

    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, Self::Error> {
        let len = <[u8]>::len(self);
        let end = usize::try_from(range.end).unwrap_or(len).min(len);
        let start = usize::try_from(range.start).unwrap_or(len).min(end);
        Ok(self[start..end].to_vec())
    }
}

impl ByteSource for Vec<u8> {
    type Error = std::convert::Infallible;

    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, Self::Error> {
        self.as_slice().read(range).await
    }
}

/// What makes a file unsafe to load, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What the file is, e.g. "a pickle stream (protocol 0) that calls a
    /// global (REDUCE at byte 31)".
    pub what: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

/// Checks a stored file for content that runs code when Python loads it,
/// whatever the file is named: a pickle at its start, an npy array of
/// objects, or a zip archive (found from the end) holding either.
pub async fn scan<S: ByteSource + ?Sized>(src: &S) -> Result<Option<Finding>, S::Error> {
    if src.is_empty() {
        return Ok(None);
    }
    let head = read_at(src, 0, WINDOW).await?;
    if let Some(what) = npy_array(src, &head).await? {
        return Ok(Some(Finding { what }));
    }
    if let Some(what) = pickle_stream(src, &head).await? {
        return Ok(Some(Finding { what }));
    }
    zip::scan(src, &head).await
}

/// An npy file's header, read whole when it is longer than the head.
async fn npy_array<S: ByteSource + ?Sized>(
    src: &S,
    head: &[u8],
) -> Result<Option<String>, S::Error> {
    let header = match npy::inspect(head) {
        npy::Header::Need(end) if end <= src.len() => npy::inspect(&read_at(src, 0, end).await?),
        header => header,
    };
    Ok(match header {
        npy::Header::Unsafe(why) => Some(why),
        npy::Header::NotNpy | npy::Header::Safe | npy::Header::Need(_) => None,
    })
}

/// Walks the file as a pickle stream from its first byte, window by window.
async fn pickle_stream<S: ByteSource + ?Sized>(
    src: &S,
    head: &[u8],
) -> Result<Option<String>, S::Error> {
    let end = src.len();
    let mut walk = Recogniser::new();
    let mut verdict = walk.walk(head, 0, end);
    let (mut read, mut windows) = (head.len() as u64, 1);
    while let Walk::NeedBytes(at) = verdict {
        if read >= PICKLE_BUDGET || windows >= PICKLE_WINDOWS {
            verdict = walk.give_up();
            break;
        }
        let window = read_at(src, at, WINDOW).await?;
        read += window.len() as u64;
        windows += 1;
        verdict = walk.walk(&window, at, end);
    }
    Ok(match verdict {
        Walk::Pickle(what) => Some(what),
        Walk::NotPickle | Walk::NeedBytes(_) => None,
    })
}

/// Reads `len` bytes from `at`, cut short at the end of the file.
async fn read_at<S: ByteSource + ?Sized>(src: &S, at: u64, len: u64) -> Result<Vec<u8>, S::Error> {
    let end = src.len();
    let start = at.min(end);
    src.read(start..start.saturating_add(len).min(end)).await
}

#[cfg(test)]
mod tests;
