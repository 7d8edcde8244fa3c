//! Reconstructions (`GET /xet/v1|v2/reconstructions/{file}`): how to rebuild a
//! byte range of a file from xorb chunks, with a signed URL for each run of
//! chunks. Answered only for a file of the revision the read token names, so a
//! token for one model reveals nothing of another's files.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use serde::Serialize;

use super::data::DataGrant;
use super::token::Grant;
use crate::app::App;
use crate::db::xet::{self, XetFile, XorbRow};
use crate::error::{AppError, AppResult};
use granary_core::time::now_secs;

/// How long a xorb URL in an answer stays valid.
const URL_LIFETIME_SECS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChunkRange {
    pub start: u32,
    pub end: u32,
}

/// A byte range, both ends included (as in an HTTP `Range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

#[derive(Debug, Serialize)]
pub struct TermInfo {
    pub hash: String,
    pub unpacked_length: u64,
    pub range: ChunkRange,
}

#[derive(Debug, Serialize)]
pub struct FetchRange {
    pub chunks: ChunkRange,
    pub bytes: ByteRange,
}

#[derive(Debug, Serialize)]
pub struct FetchV2 {
    pub url: String,
    pub ranges: Vec<FetchRange>,
}

/// The v2 answer.
#[derive(Debug, Serialize)]
pub struct ReconstructionV2 {
    pub offset_into_first_range: u64,
    pub terms: Vec<TermInfo>,
    pub xorbs: BTreeMap<String, Vec<FetchV2>>,
}

#[derive(Debug, Serialize)]
pub struct FetchV1 {
    pub range: ChunkRange,
    pub url: String,
    pub url_range: ByteRange,
}

/// The v1 answer (older clients).
#[derive(Debug, Serialize)]
pub struct ReconstructionV1 {
    pub offset_into_first_range: u64,
    pub terms: Vec<TermInfo>,
    pub fetch_info: BTreeMap<String, Vec<FetchV1>>,
}

/// A run of chunks of one xorb that a range of the file needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub xorb: String,
    pub chunks: Range<u32>,
    pub unpacked: u64,
    /// Where the run lies in the xorb object (end exclusive).
    pub bytes: Range<u64>,
}

/// The pieces that cover `range` of `file`, and how far into the first one the
/// range starts.
pub fn plan(
    file: &XetFile,
    xorbs: &HashMap<String, XorbRow>,
    range: Range<u64>,
) -> (u64, Vec<Piece>) {
    let mut pieces: Vec<Piece> = Vec::new();
    let mut offset = 0;
    let mut pos = 0u64;
    for term in &file.terms {
        let Some(x) = xorbs.get(&term.xorb) else {
            continue;
        };
        let unpacked_at = |c: u32| {
            if c == 0 {
                0
            } else {
                x.unpacked_ends[c as usize - 1]
            }
        };
        let packed_at = |c: u32| {
            if c == 0 {
                0
            } else {
                x.chunk_ends[c as usize - 1]
            }
        };
        let base = unpacked_at(term.start);
        let mut run: Option<Range<u32>> = None;
        for c in term.start..term.end {
            let from = pos + unpacked_at(c) - base;
            let to = pos + unpacked_at(c + 1) - base;
            if to > range.start && from < range.end {
                if pieces.is_empty() && run.is_none() {
                    offset = range.start.saturating_sub(from);
                }
                run = Some(run.map_or(c..c + 1, |r| r.start..c + 1));
            }
        }
        if let Some(r) = run {
            pieces.push(Piece {
                xorb: term.xorb.clone(),
                unpacked: unpacked_at(r.end) - unpacked_at(r.start),
                bytes: packed_at(r.start)..packed_at(r.end),
                chunks: r,
            });
        }
        pos += unpacked_at(term.end) - base;
    }
    (offset, pieces)
}

/// The file `file_hash` of the grant's revision with the xorbs it uses, or "not found".
async fn readable_file(
    app: &App,
    grant: &Grant,
    file_hash: &str,
) -> AppResult<(XetFile, HashMap<String, XorbRow>)> {
    let missing = || AppError::NotFound(format!("no file {file_hash} in this revision"));
    let file = xet::file(&app.db, file_hash).await?.ok_or_else(missing)?;
    if !xet::revision_has_blob(
        &app.db,
        &grant.model.id,
        &grant.claims.reference,
        &file.sha256,
    )
    .await?
    {
        return Err(missing());
    }
    let mut xorbs = HashMap::new();
    for term in &file.terms {
        if !xorbs.contains_key(&term.xorb) {
            let row = xet::xorb(&app.db, &term.xorb).await?.ok_or_else(|| {
                AppError::internal_msg(format!("xorb {} of file {file_hash} is missing", term.xorb))
            })?;
            xorbs.insert(term.xorb.clone(), row);
        }
    }
    Ok((file, xorbs))
}

/// What a reconstruction is asked for: a file of the grant's revision, a `Range`
/// header (none: the whole file), and the CAS URL the xorb URLs go under.
pub struct Request<'a> {
    pub app: &'a App,
    pub grant: &'a Grant,
    pub file_hash: &'a str,
    pub range: Option<&'a str>,
    pub cas_url: &'a str,
}

/// The pieces of the asked range of the file, each with a signed URL.
async fn signed_pieces(req: &Request<'_>) -> AppResult<(u64, Vec<(Piece, String)>)> {
    let Request {
        app,
        grant,
        file_hash,
        range: range_header,
        cas_url,
    } = *req;
    let (file, xorbs) = readable_file(app, grant, file_hash).await?;
    let range = match (file.size, range_header) {
        (0, _) | (_, None) => 0..file.size,
        (size, Some(spec)) => crate::downloads::parse_range(spec, size)?.unwrap_or(0..size),
    };
    let (offset, pieces) = plan(&file, &xorbs, range);
    let exp = (now_secs() + URL_LIFETIME_SECS).min(grant.claims.exp.max(now_secs() + 60));
    let mut out = Vec::with_capacity(pieces.len());
    for p in pieces {
        let url = DataGrant {
            xorb: p.xorb.clone(),
            range: p.bytes.clone(),
            exp,
        }
        .url(app, cas_url)?;
        out.push((p, url));
    }
    Ok((offset, out))
}

fn term_info(p: &Piece) -> TermInfo {
    TermInfo {
        hash: p.xorb.clone(),
        unpacked_length: p.unpacked,
        range: chunk_range(p),
    }
}

fn chunk_range(p: &Piece) -> ChunkRange {
    ChunkRange {
        start: p.chunks.start,
        end: p.chunks.end,
    }
}

fn byte_range(p: &Piece) -> ByteRange {
    ByteRange {
        start: p.bytes.start,
        end: p.bytes.end - 1,
    }
}

/// The v2 reconstruction of a range of a file.
pub async fn v2(req: &Request<'_>) -> AppResult<ReconstructionV2> {
    let (offset, pieces) = signed_pieces(req).await?;
    let mut xorbs: BTreeMap<String, Vec<FetchV2>> = BTreeMap::new();
    for (p, url) in &pieces {
        xorbs.entry(p.xorb.clone()).or_default().push(FetchV2 {
            url: url.clone(),
            ranges: vec![FetchRange {
                chunks: chunk_range(p),
                bytes: byte_range(p),
            }],
        });
    }
    Ok(ReconstructionV2 {
        offset_into_first_range: offset,
        terms: pieces.iter().map(|(p, _)| term_info(p)).collect(),
        xorbs,
    })
}

/// The v1 reconstruction of a range of a file.
pub async fn v1(req: &Request<'_>) -> AppResult<ReconstructionV1> {
    let (offset, pieces) = signed_pieces(req).await?;
    let mut fetch_info: BTreeMap<String, Vec<FetchV1>> = BTreeMap::new();
    for (p, url) in &pieces {
        fetch_info.entry(p.xorb.clone()).or_default().push(FetchV1 {
            range: chunk_range(p),
            url: url.clone(),
            url_range: byte_range(p),
        });
    }
    Ok(ReconstructionV1 {
        offset_into_first_range: offset,
        terms: pieces.iter().map(|(p, _)| term_info(p)).collect(),
        fetch_info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::xet::Term;

    fn xorb(hash: &str, sizes: &[u64]) -> XorbRow {
        let mut packed = 0;
        let mut unpacked = 0;
        XorbRow {
            hash: hash.into(),
            size: 0,
            chunk_ends: sizes
                .iter()
                .map(|s| {
                    packed += s / 2 + 8;
                    packed
                })
                .collect(),
            unpacked_ends: sizes
                .iter()
                .map(|s| {
                    unpacked += s;
                    unpacked
                })
                .collect(),
        }
    }

    #[test]
    fn a_range_needs_only_the_chunks_it_overlaps() {
        // Xorb a: chunks of 100, 100, 100; xorb b: 50, 50. The file is a[1..3] then b[0..2]:
        // bytes 0..200 from a, 200..300 from b.
        let xorbs: HashMap<String, XorbRow> = [
            ("a".to_string(), xorb("a", &[100, 100, 100])),
            ("b".to_string(), xorb("b", &[50, 50])),
        ]
        .into_iter()
        .collect();
        let file = XetFile {
            file_hash: "f".into(),
            sha256: "s".into(),
            size: 300,
            terms: vec![
                Term {
                    xorb: "a".into(),
                    start: 1,
                    end: 3,
                },
                Term {
                    xorb: "b".into(),
                    start: 0,
                    end: 2,
                },
            ],
        };
        let (offset, whole) = plan(&file, &xorbs, 0..300);
        assert_eq!(offset, 0);
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].chunks, 1..3);
        assert_eq!(whole[0].unpacked, 200);
        assert_eq!(whole[0].bytes, 58..174);
        assert_eq!(whole[1].chunks, 0..2);
        // Bytes 150..210: the second chunk of the first term, and the first of the second.
        let (offset, part) = plan(&file, &xorbs, 150..210);
        assert_eq!(offset, 50);
        assert_eq!(
            part.iter()
                .map(|p| (p.xorb.as_str(), p.chunks.clone()))
                .collect::<Vec<_>>(),
            [("a", 2..3), ("b", 0..1)]
        );
        let unpacked: u64 = part.iter().map(|p| p.unpacked).sum();
        assert!(unpacked - offset >= 60, "the pieces cover the range");
    }
}
