//! The fixed header of a GGUF file (llama.cpp's format): the magic, a known
//! version, and tensor and metadata counts that the file's size can hold. A
//! header that lies makes loaders read far past the end or allocate without
//! bound, so it is refused before anyone downloads it.

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
    if &head[..4] != b"GGUF" {
        return Err("it does not start with the GGUF magic (`GGUF`)".into());
    }
    let u32_at = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().expect("4 bytes"));
    let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().expect("8 bytes"));
    let version = u32_at(4);
    if !(2..=3).contains(&version) {
        return Err(format!(
            "GGUF version {version} is not one this registry reads (2 or 3)"
        ));
    }
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
}
