//! Reading a safetensors header without the tensor data: enough to check that
//! a file is well formed and to count its parameters.

use std::collections::{BTreeMap, HashSet};

use serde::Deserializer as _;
use serde::de::{self, MapAccess, Visitor};

use crate::manifest::SafetensorsSummary;

/// Headers larger than this are refused (the reference implementation's cap).
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// Why a safetensors file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("file is {0} bytes, too short to hold a safetensors header")]
    TooShort(u64),
    #[error("header declares {0} bytes, more than the {MAX_HEADER_LEN}-byte limit")]
    TooLarge(u64),
    #[error(
        "header declares {declared} bytes but the file has only {available} after the length prefix"
    )]
    Truncated { declared: u64, available: u64 },
    #[error("header is not valid UTF-8")]
    NotUtf8,
    #[error("header JSON has the key `{0}` twice")]
    DuplicateKey(String),
    #[error("header is not a valid safetensors header: {0}")]
    Invalid(String),
    #[error(
        "tensor data ends at byte {data_end} but the file has {data_len} bytes of data: {what}"
    )]
    SizeMismatch {
        data_end: u64,
        data_len: u64,
        what: &'static str,
    },
}

/// The length of the header, read from the first 8 bytes.
pub fn header_len(prefix: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*prefix)
}

/// Checks the header of a safetensors file of `file_size` bytes, given the
/// header's JSON bytes (the `header_len` bytes after the 8-byte prefix), and
/// summarises it. Checks: UTF-8, no duplicate keys, offsets contiguous from 0,
/// dtype × shape = byte length, and the data section exactly covered.
pub fn inspect(file_size: u64, header: &[u8]) -> Result<SafetensorsSummary, HeaderError> {
    let n = header.len() as u64;
    if n > MAX_HEADER_LEN {
        return Err(HeaderError::TooLarge(n));
    }
    let text = std::str::from_utf8(header).map_err(|_| HeaderError::NotUtf8)?;
    reject_duplicate_keys(text)?;
    let meta: safetensors::tensor::Metadata =
        serde_json::from_str(text).map_err(|e| HeaderError::Invalid(e.to_string()))?;
    let data_len = file_size.saturating_sub(8 + n);
    let data_end = meta.data_len() as u64;
    if data_end != data_len {
        return Err(HeaderError::SizeMismatch {
            data_end,
            data_len,
            what: if data_end > data_len {
                "the file is truncated"
            } else {
                "the file has trailing bytes"
            },
        });
    }
    let mut summary = SafetensorsSummary::default();
    for info in meta.tensors().values() {
        summary.tensors += 1;
        let count: u64 = info.shape.iter().map(|&d| d as u64).product();
        *summary
            .parameters
            .entry(format!("{:?}", info.dtype))
            .or_insert(0) += count;
    }
    Ok(summary)
}

/// Checks the 8-byte prefix against the file size; returns the header length.
pub fn check_prefix(file_size: u64, prefix: &[u8; 8]) -> Result<u64, HeaderError> {
    if file_size < 8 {
        return Err(HeaderError::TooShort(file_size));
    }
    let n = header_len(prefix);
    if n > MAX_HEADER_LEN {
        return Err(HeaderError::TooLarge(n));
    }
    if n > file_size - 8 {
        return Err(HeaderError::Truncated {
            declared: n,
            available: file_size - 8,
        });
    }
    Ok(n)
}

/// Inspects a whole safetensors file held in memory.
pub fn inspect_bytes(file: &[u8]) -> Result<SafetensorsSummary, HeaderError> {
    let size = file.len() as u64;
    let prefix: [u8; 8] = file
        .get(..8)
        .and_then(|p| p.try_into().ok())
        .ok_or(HeaderError::TooShort(size))?;
    let n = check_prefix(size, &prefix)?;
    inspect(size, &file[8..8 + n as usize])
}

/// serde_json keeps the last of two equal keys; a header that says two
/// things about one tensor is refused instead.
fn reject_duplicate_keys(text: &str) -> Result<(), HeaderError> {
    struct TopLevel;
    impl<'de> Visitor<'de> for TopLevel {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut seen = HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<de::IgnoredAny>()?;
                if !seen.insert(key.clone()) {
                    return Ok(Some(key));
                }
            }
            Ok(None)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    match de.deserialize_map(TopLevel) {
        Ok(Some(key)) => Err(HeaderError::DuplicateKey(key)),
        Ok(None) => Ok(()),
        Err(e) => Err(HeaderError::Invalid(e.to_string())),
    }
}

/// Builds a safetensors file from `(name, dtype, shape, bytes)` tensors, in order.
/// Used by tests and fixture generators on both sides.
pub fn build(tensors: &[(&str, &str, Vec<u64>, Vec<u8>)]) -> Vec<u8> {
    let mut header = BTreeMap::new();
    let mut offset = 0u64;
    for (name, dtype, shape, bytes) in tensors {
        let end = offset + bytes.len() as u64;
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut json = serde_json::to_vec(&header).expect("header serialises");
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + offset as usize);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for (_, _, _, bytes) in tensors {
        out.extend_from_slice(bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(n: usize) -> Vec<u8> {
        (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect()
    }

    #[test]
    fn summarises_a_valid_file() {
        let file = build(&[
            ("a", "F32", vec![2, 3], f32s(6)),
            ("b", "F16", vec![4], vec![0; 8]),
        ]);
        let s = inspect_bytes(&file).unwrap();
        assert_eq!(s.tensors, 2);
        assert_eq!(s.parameters["F32"], 6);
        assert_eq!(s.parameters["F16"], 4);
        assert_eq!(s.total_parameters(), 10);
    }

    #[test]
    fn refuses_broken_files() {
        let good = build(&[("a", "F32", vec![2], f32s(2))]);
        let mut truncated = good.clone();
        truncated.pop();
        assert!(matches!(
            inspect_bytes(&truncated),
            Err(HeaderError::SizeMismatch { .. })
        ));
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            inspect_bytes(&trailing),
            Err(HeaderError::SizeMismatch { .. })
        ));
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&(MAX_HEADER_LEN + 1).to_le_bytes());
        assert!(matches!(
            inspect_bytes(&huge),
            Err(HeaderError::TooLarge(_))
        ));
        let mut past_end = good.clone();
        past_end[..8].copy_from_slice(&1_000u64.to_le_bytes());
        assert!(matches!(
            inspect_bytes(&past_end),
            Err(HeaderError::Truncated { .. })
        ));
        assert!(matches!(
            inspect_bytes(b"1234"),
            Err(HeaderError::TooShort(4))
        ));
        let shape_lie = build(&[("a", "F32", vec![3], f32s(2))]);
        assert!(matches!(
            inspect_bytes(&shape_lie),
            Err(HeaderError::Invalid(_))
        ));
    }

    #[test]
    fn refuses_overlaps_duplicates_and_bad_utf8() {
        let json = br#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#;
        let mut file = (json.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(json);
        file.extend_from_slice(&[0; 3]);
        assert!(matches!(inspect_bytes(&file), Err(HeaderError::Invalid(_))));

        let json = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        let mut file = (json.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(json);
        file.push(0);
        assert!(matches!(
            inspect_bytes(&file),
            Err(HeaderError::DuplicateKey(_))
        ));

        let mut file = 2u64.to_le_bytes().to_vec();
        file.extend_from_slice(&[0xff, 0xfe]);
        assert!(matches!(inspect_bytes(&file), Err(HeaderError::NotUtf8)));
    }
}
