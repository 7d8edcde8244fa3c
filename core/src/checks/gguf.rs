//! GGUF files (llama.cpp's format). [`check_header`]: the fixed header's magic,
//! a known version, and tensor and metadata counts that the file's size can
//! hold; a header that lies makes loaders read far past the end or allocate
//! without bound, so it is refused before anyone downloads it (commits and
//! `granary push`). [`parse`]: the whole header (metadata and tensors), for the
//! web's file viewer; every length is checked against the bytes at hand, so a
//! hostile file is an error, never a panic or a huge allocation.

/// Magic, version (u32), tensor count (u64), metadata count (u64).
pub const HEADER_LEN: u64 = 24;

/// The fewest bytes one metadata entry takes: key length (u64), a one-byte
/// key, value type (u32).
const MIN_KV: u64 = 8 + 1 + 4;

/// The fewest bytes one tensor description takes: name length (u64), a
/// one-byte name, dimension count (u32), one dimension (u64), type (u32),
/// offset (u64).
const MIN_TENSOR: u64 = 8 + 1 + 4 + 8 + 4 + 8;

/// Checks the first [`HEADER_LEN`] bytes of a GGUF file of `size` bytes.
pub fn check_header(size: u64, head: &[u8]) -> Result<(), String> {
    if size < HEADER_LEN || head.len() < HEADER_LEN as usize {
        return Err(format!(
            "{size} bytes is too short for a GGUF header ({HEADER_LEN} bytes)"
        ));
    }
    magic_and_version(head)?;
    let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().expect("8 bytes"));
    let (tensors, kvs) = (u64_at(8), u64_at(16));
    let least = tensors
        .checked_mul(MIN_TENSOR)
        .and_then(|t| kvs.checked_mul(MIN_KV).and_then(|k| t.checked_add(k)))
        .and_then(|n| n.checked_add(HEADER_LEN));
    match least {
        Some(n) if n <= size => Ok(()),
        _ => Err(format!(
            "its header declares {tensors} tensors and {kvs} metadata entries, more than its {size} bytes can hold"
        )),
    }
}

/// The version of a GGUF file whose first 8 bytes are `head`, if it has the
/// magic and a version this registry reads.
fn magic_and_version(head: &[u8]) -> Result<u32, String> {
    if head.get(..4) != Some(b"GGUF".as_slice()) {
        return Err("it does not start with the GGUF magic (`GGUF`)".into());
    }
    let version = head
        .get(4..8)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or("the header is cut short")?;
    if !(2..=3).contains(&version) {
        return Err(format!(
            "GGUF version {version} is not one this registry reads (2 or 3)"
        ));
    }
    Ok(version)
}

/// What a GGUF header declares.
#[derive(Debug, Default, PartialEq)]
pub struct GgufHeader {
    pub version: u32,
    pub metadata: Vec<(String, String)>,
    /// Name, ggml type, shape.
    pub tensors: Vec<(String, String, Vec<u64>)>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

type R<T> = Result<T, String>;

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> R<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| "a length does not fit".to_string())?;
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("the header is longer than the bytes read (or the file is cut short)")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u32(&mut self) -> R<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn u64(&mut self) -> R<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    fn string(&mut self) -> R<String> {
        let n = self.u64()?;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    /// A value of metadata type `t`, as text.
    fn value(&mut self, t: u32, depth: u32) -> R<String> {
        let fixed = |r: &mut Self, n: u64| r.take(n).map(|b| b.to_vec());
        Ok(match t {
            0 => fixed(self, 1)?[0].to_string(),
            1 => (fixed(self, 1)?[0] as i8).to_string(),
            2 => u16::from_le_bytes(fixed(self, 2)?.try_into().unwrap_or_default()).to_string(),
            3 => i16::from_le_bytes(fixed(self, 2)?.try_into().unwrap_or_default()).to_string(),
            4 => self.u32()?.to_string(),
            5 => (self.u32()? as i32).to_string(),
            6 => f32::from_bits(self.u32()?).to_string(),
            7 => (fixed(self, 1)?[0] != 0).to_string(),
            8 => self.string()?,
            9 if depth == 0 => {
                let item = self.u32()?;
                let n = self.u64()?;
                for _ in 0..n {
                    self.value(item, depth + 1)?;
                }
                format!("[{n} items]")
            }
            10 => self.u64()?.to_string(),
            11 => (self.u64()? as i64).to_string(),
            12 => f64::from_bits(self.u64()?).to_string(),
            other => return Err(format!("unknown metadata type {other}")),
        })
    }
}

/// The ggml type names of GGUF tensors.
fn type_name(t: u32) -> String {
    const NAMES: [&str; 31] = [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K",
        "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",
        "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16",
    ];
    NAMES
        .get(t as usize)
        .map_or_else(|| format!("type {t}"), |n| n.to_string())
}

/// Parses the header at the start of `bytes` (a prefix of the file).
pub fn parse(bytes: &[u8]) -> R<GgufHeader> {
    let version = magic_and_version(bytes)?;
    let mut r = Reader { bytes, at: 8 };
    let tensor_count = r.u64()?;
    let kv_count = r.u64()?;
    let mut metadata = Vec::new();
    for _ in 0..kv_count {
        let key = r.string()?;
        let t = r.u32()?;
        metadata.push((key, r.value(t, 0)?));
    }
    let mut tensors = Vec::new();
    for _ in 0..tensor_count {
        let name = r.string()?;
        let dims = r.u32()?;
        if dims > 8 {
            return Err(format!("tensor `{name}` has {dims} dimensions"));
        }
        let shape = (0..dims).map(|_| r.u64()).collect::<R<Vec<_>>>()?;
        let t = r.u32()?;
        r.u64()?; // Offset of its data.
        tensors.push((name, type_name(t), shape));
    }
    Ok(GgufHeader {
        version,
        metadata,
        tensors,
    })
}

/// A small GGUF file, for tests: `metadata` as strings, tensors as (name, shape) in F32.
pub fn build(metadata: &[(&str, &str)], tensors: &[(&str, &[u64])]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    let string = |out: &mut Vec<u8>, s: &str| {
        out.extend((s.len() as u64).to_le_bytes());
        out.extend(s.as_bytes());
    };
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((metadata.len() as u64).to_le_bytes());
    for (k, v) in metadata {
        string(&mut out, k);
        out.extend(8u32.to_le_bytes());
        string(&mut out, v);
    }
    for (name, shape) in tensors {
        string(&mut out, name);
        out.extend((shape.len() as u32).to_le_bytes());
        for d in *shape {
            out.extend(d.to_le_bytes());
        }
        out.extend(0u32.to_le_bytes());
        out.extend(0u64.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u32, tensors: u64, kvs: u64) -> Vec<u8> {
        let mut h = b"GGUF".to_vec();
        h.extend(version.to_le_bytes());
        h.extend(tensors.to_le_bytes());
        h.extend(kvs.to_le_bytes());
        h
    }

    #[test]
    fn a_header_that_fits_passes_and_lies_are_refused() {
        assert!(check_header(24, &header(3, 0, 0)).is_ok());
        assert!(check_header(1000, &header(3, 2, 10)).is_ok());
        assert!(
            check_header(10, &header(3, 0, 0))
                .unwrap_err()
                .contains("too short")
        );
        assert!(
            check_header(24, b"GGML\x03\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")
                .unwrap_err()
                .contains("magic")
        );
        assert!(
            check_header(24, &header(9, 0, 0))
                .unwrap_err()
                .contains("version 9")
        );
        assert!(
            check_header(100, &header(3, 1 << 40, 0))
                .unwrap_err()
                .contains("can hold")
        );
        assert!(
            check_header(100, &header(3, u64::MAX, u64::MAX))
                .unwrap_err()
                .contains("can hold")
        );
    }

    #[test]
    fn reads_metadata_and_tensors() {
        let file = build(
            &[("general.architecture", "llama")],
            &[
                ("token_embd.weight", &[64, 32]),
                ("output_norm.weight", &[64]),
            ],
        );
        let h = parse(&file).unwrap();
        assert_eq!(h.version, 3);
        assert_eq!(
            h.metadata,
            vec![("general.architecture".into(), "llama".into())]
        );
        assert_eq!(
            h.tensors[0],
            ("token_embd.weight".into(), "F32".into(), vec![64, 32])
        );
    }

    #[test]
    fn hostile_headers_are_errors() {
        assert!(parse(b"GGUF").is_err());
        assert!(parse(b"NOPE\x03\0\0\0").is_err());
        let mut huge = build(&[("k", "v")], &[]);
        huge[24..32].copy_from_slice(&u64::MAX.to_le_bytes()); // The key's length.
        assert!(parse(&huge).is_err());
        let cut = build(&[], &[("t", &[1, 2])]);
        assert!(parse(&cut[..cut.len() - 3]).is_err());
    }
}
