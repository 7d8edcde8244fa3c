//! Zip archives that hold pickles: PyTorch checkpoints (`archive/data.pkl`),
//! joblib dumps in a zip, and `.npz` files of object arrays.
//!
//! An archive is found the way Python's `zipfile` and miniz (PyTorch's zip
//! reader) find one: by the last End Of Central Directory record in the
//! file's final 64 KiB + 22 bytes, whatever the file starts with, so bytes
//! put in front of an archive do not hide it. Members are refused by name
//! (`.pkl`, `.pickle`) and by content: numpy's `NpzFile` reads any member
//! that starts with the npy magic as an array, whatever its name, so the
//! first bytes of every member are checked as npy and as pickle.

mod member;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use super::{ByteSource, Finding, read_at};

const END_SIG: &[u8] = b"PK\x05\x06";
const END_LEN: u64 = 22;
const LOCATOR_SIG: &[u8] = b"PK\x06\x07";
const LOCATOR_LEN: u64 = 20;
const END64_SIG: &[u8] = b"PK\x06\x06";
const END64_LEN: u64 = 56;
const CENTRAL_SIG: &[u8] = b"PK\x01\x02";
const CENTRAL_LEN: usize = 46;
const LOCAL_SIG: &[u8] = b"PK\x03\x04";
const LOCAL_LEN: u64 = 30;

/// The most bytes of central directory read, over every candidate.
pub const MAX_CENTRAL_DIRECTORY: u64 = 16 * 1024 * 1024;

/// The most members whose content is checked; an archive with more is refused.
pub const MAX_CHECKED_MEMBERS: usize = 1024;

/// One member as the central directory lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The name's bytes (UTF-8 or CP437).
    pub name: Vec<u8>,
    pub flags: u16,
    /// 0 stored, 8 deflated, 12 bzip2, 14 LZMA, 93 Zstandard.
    pub method: u16,
    pub compressed_size: u64,
    pub size: u64,
    /// Where its local file header starts in the file.
    pub local_header: u64,
}

impl Member {
    /// The name as a user should see it.
    pub fn display_name(&self) -> String {
        let name: String = String::from_utf8_lossy(&self.name)
            .chars()
            .take(200)
            .collect();
        name.chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_debug().collect()
                } else {
                    vec![c]
                }
            })
            .collect()
    }
}

/// Where a central directory may lie: `shift` is added to the offsets it
/// records. Python places it just before the end record (allowing for
/// prepended bytes); miniz believes the recorded offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Directory {
    start: u64,
    len: u64,
    shift: i64,
}

/// Checks the zip archive in `src`, if there is one. `head` holds the
/// file's first bytes, reused when the file is that short.
pub async fn scan<S: ByteSource + ?Sized>(
    src: &S,
    head: &[u8],
) -> Result<Option<Finding>, S::Error> {
    if let Some(what) = first_local_member(head) {
        return Ok(Some(Finding { what }));
    }
    let len = src.len();
    let tail_at = len.saturating_sub(0xFFFF + END_LEN);
    let tail = if len <= head.len() as u64 {
        head.to_vec()
    } else {
        read_at(src, tail_at, len - tail_at).await?
    };
    let Some(end_at) = last_end_record(&tail).map(|i| tail_at + i as u64) else {
        return Ok(None);
    };
    let mut cd_budget = MAX_CENTRAL_DIRECTORY;
    let mut seen = HashSet::new();
    let mut checked = 0;
    for dir in directories(src, end_at).await? {
        if dir.start.checked_add(dir.len).is_none_or(|e| e > len) {
            continue;
        }
        if read_at(src, dir.start, 4).await? != CENTRAL_SIG {
            continue;
        }
        if dir.len > cd_budget {
            return Ok(Some(Finding {
                what: format!(
                    "a zip archive whose central directory ({} bytes) is larger than this registry checks for pickles",
                    dir.len
                ),
            }));
        }
        cd_budget -= dir.len;
        let cd = read_at(src, dir.start, dir.len).await?;
        // Names first: they cost no reads, and settle PyTorch checkpoints.
        for m in members(&cd, dir.shift) {
            if let Some(kind) = pickle_name(&m.name) {
                let what = format!(
                    "a zip archive with the pickle member `{}`{kind}",
                    m.display_name()
                );
                return Ok(Some(Finding { what }));
            }
        }
        for m in members(&cd, dir.shift) {
            if (m.size == 0 && m.compressed_size == 0) || !seen.insert(m.local_header) {
                continue;
            }
            checked += 1;
            if checked > MAX_CHECKED_MEMBERS {
                let what = format!(
                    "a zip archive of more than {MAX_CHECKED_MEMBERS} members, more than this registry checks for pickles"
                );
                return Ok(Some(Finding { what }));
            }
            if let Some(why) = member::check(src, &m).await? {
                return Ok(Some(Finding {
                    what: format!("a zip archive whose member `{}` is {why}", m.display_name()),
                }));
            }
        }
    }
    Ok(None)
}

/// A file that starts with a local file header naming a pickle: streaming unzip
/// tools read members this way, central directory or not.
fn first_local_member(head: &[u8]) -> Option<String> {
    if !head.starts_with(LOCAL_SIG) {
        return None;
    }
    let (at, name_len) = (LOCAL_LEN as usize, le(head, 26, 2) as usize);
    let name = head
        .get(at..at + name_len)
        .unwrap_or(&head[at.min(head.len())..]);
    let kind = pickle_name(name)?;
    let shown = Member {
        name: name.to_vec(),
        flags: 0,
        method: 0,
        compressed_size: 0,
        size: 0,
        local_header: 0,
    };
    Some(format!(
        "a zip archive whose first member is the pickle `{}`{kind}",
        shown.display_name()
    ))
}

/// `.pkl` and `.pickle` members, and what they usually are.
fn pickle_name(name: &[u8]) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower == b"data.pkl" || lower.ends_with(b"/data.pkl") {
        Some(" (a PyTorch checkpoint)")
    } else if lower.ends_with(b".pkl") || lower.ends_with(b".pickle") {
        Some("")
    } else {
        None
    }
}

/// The offset in `tail` of the last end record with room for its 22 bytes.
fn last_end_record(tail: &[u8]) -> Option<usize> {
    let last = tail.len().checked_sub(END_LEN as usize)?;
    (0..=last)
        .rev()
        .find(|&i| tail.get(i..i + 4) == Some(END_SIG))
}

/// Every place the end record at `end_at` may put the central directory,
/// as Python's `zipfile` and as miniz would read it, ZIP64 included.
async fn directories<S: ByteSource + ?Sized>(
    src: &S,
    end_at: u64,
) -> Result<Vec<Directory>, S::Error> {
    let end = read_at(src, end_at, END_LEN).await?;
    let mut found = Vec::new();
    let (size, offset) = (le(&end, 12, 4), le(&end, 16, 4));
    push_places(&mut found, end_at, size, offset);
    if let Some(locator_at) = end_at.checked_sub(LOCATOR_LEN) {
        let locator = read_at(src, locator_at, LOCATOR_LEN).await?;
        if locator.starts_with(LOCATOR_SIG) {
            // Python reads the ZIP64 end record just before the locator;
            // miniz where the locator points.
            let mut records = vec![le(&locator, 8, 8)];
            records.extend(locator_at.checked_sub(END64_LEN));
            for record_at in records {
                let record = read_at(src, record_at, END64_LEN).await?;
                if record.starts_with(END64_SIG) {
                    let before = end_at.saturating_sub(LOCATOR_LEN + END64_LEN);
                    push_places(&mut found, before, le(&record, 40, 8), le(&record, 48, 8));
                }
            }
        }
    }
    let mut unique = HashSet::new();
    found.retain(|d| unique.insert(*d));
    Ok(found)
}

/// The recorded place, and the place right before `before` (the end records).
fn push_places(found: &mut Vec<Directory>, before: u64, size: u64, offset: u64) {
    found.push(Directory {
        start: offset,
        len: size,
        shift: 0,
    });
    if let Some(start) = before.checked_sub(size)
        && let (Ok(s), Ok(o)) = (i64::try_from(start), i64::try_from(offset))
    {
        found.push(Directory {
            start,
            len: size,
            shift: s - o,
        });
    }
}

/// The members a central directory lists, up to the first entry that does
/// not parse (where Python's `zipfile` stops too).
fn members(cd: &[u8], shift: i64) -> impl Iterator<Item = Member> + '_ {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let fixed = cd
            .get(at..at + CENTRAL_LEN)
            .filter(|f| f.starts_with(CENTRAL_SIG))?;
        let (name_len, extra_len, comment_len) = (
            le(fixed, 28, 2) as usize,
            le(fixed, 30, 2) as usize,
            le(fixed, 32, 2) as usize,
        );
        let name_at = at + CENTRAL_LEN;
        let name = cd.get(name_at..name_at + name_len)?;
        let extra = cd.get(name_at + name_len..name_at + name_len + extra_len)?;
        let mut m = Member {
            name: name.to_vec(),
            flags: le(fixed, 8, 2) as u16,
            method: le(fixed, 10, 2) as u16,
            compressed_size: le(fixed, 20, 4),
            size: le(fixed, 24, 4),
            local_header: le(fixed, 42, 4),
        };
        zip64_extra(&mut m, extra);
        m.local_header = m.local_header.checked_add_signed(shift).unwrap_or(u64::MAX);
        at = name_at + name_len + extra_len + comment_len;
        Some(m)
    })
}

/// Replaces saturated 32-bit fields with their ZIP64 extra field values.
fn zip64_extra(m: &mut Member, mut extra: &[u8]) {
    while extra.len() >= 4 {
        let (id, len) = (le(extra, 0, 2), le(extra, 2, 2) as usize);
        let data = extra.get(4..4 + len).unwrap_or_default();
        if id == 1 {
            let mut values = data.chunks_exact(8).map(|c| le(c, 0, 8));
            for field in [&mut m.size, &mut m.compressed_size, &mut m.local_header] {
                if *field == 0xFFFF_FFFF {
                    match values.next() {
                        Some(v) => *field = v,
                        None => return,
                    }
                }
            }
        }
        extra = extra.get(4 + len..).unwrap_or_default();
    }
}

/// A little-endian integer of `n` bytes at `at`; 0 where `bytes` is short.
fn le(bytes: &[u8], at: usize, n: usize) -> u64 {
    bytes.get(at..at + n).map_or(0, |b| {
        b.iter().rev().fold(0, |acc, &x| (acc << 8) | u64::from(x))
    })
}
