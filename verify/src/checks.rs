//! Checks made before any tensor is loaded: every safetensors header is
//! well formed (length cap, offsets in bounds and contiguous, dtype × shape =
//! byte size, the data section exactly covered), and the tensors fit the
//! memory budget.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use granary_core::safetensors_header::{self, HeaderError};

use crate::outcome::{Result, Stop, human_bytes};

/// One safetensors file whose header passed.
pub struct CheckedFile {
    /// Path relative to the revision's directory, as reasons print it.
    pub name: String,
    pub path: PathBuf,
    /// Elements per dtype (`F32`, `BF16`, ...), from the header.
    pub elements: BTreeMap<String, u64>,
}

/// Every `.safetensors` file under `dir`, sorted by relative path.
pub fn find_safetensors(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| Stop::error(format!("cannot list {}: {e}", d.display())))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| Stop::error(format!("cannot list {}: {e}", d.display())))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| Stop::error(format!("cannot stat {}: {e}", path.display())))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "safetensors") {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                found.push((rel, path));
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(Stop::failed(
            "the revision has no .safetensors file to verify",
        ));
    }
    Ok(found)
}

/// Reads and checks the header of one file without reading its tensor data.
pub fn check_header(name: &str, path: &Path) -> Result<CheckedFile> {
    let io = |e: std::io::Error| Stop::error(format!("cannot read `{name}`: {e}"));
    let mut file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut prefix = [0u8; 8];
    if size >= 8 {
        file.read_exact(&mut prefix).map_err(io)?;
    }
    let header_len =
        safetensors_header::check_prefix(size, &prefix).map_err(|e| header_stop(name, e))?;
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(io)?;
    let summary = safetensors_header::inspect(size, &header).map_err(|e| header_stop(name, e))?;
    Ok(CheckedFile {
        name: name.to_string(),
        path: path.to_path_buf(),
        elements: summary.parameters,
    })
}

fn header_stop(name: &str, e: HeaderError) -> Stop {
    let why = match e {
        HeaderError::SizeMismatch {
            data_end, data_len, ..
        } if data_end > data_len => format!(
            "header declares offsets past the end of the file (tensor data ends at byte {data_end}, \
             the file holds {data_len} bytes of data): the file is truncated or its header lies"
        ),
        HeaderError::TooLarge(n) => format!(
            "header declares {} bytes, over the {}-byte limit on safetensors headers",
            n,
            safetensors_header::MAX_HEADER_LEN
        ),
        HeaderError::Truncated {
            declared,
            available,
        } => format!(
            "header declares {declared} bytes but the file holds only {available} after the length prefix: \
             the file is truncated or its header lies"
        ),
        other => other.to_string(),
    };
    Stop::failed(format!("`{name}`: {why}"))
}

/// Bytes one element of a safetensors dtype takes; `None` for unknown names.
pub fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" | "F4" | "F6_E2M3" | "F6_E3M2" => {
            1
        }
        "U16" | "I16" | "F16" | "BF16" => 2,
        "U32" | "I32" | "F32" => 4,
        "U64" | "I64" | "F64" | "C64" => 8,
        _ => return None,
    })
}

/// Whether values of this dtype are floating point (and so checked for NaN and infinity).
pub fn is_float(dtype: &str) -> bool {
    dtype.starts_with('F') || dtype == "BF16"
}

/// Bytes the tensors take once loaded: floats in `run_dtype_size` bytes each,
/// the rest in their own size.
pub fn loaded_bytes(files: &[CheckedFile], run_dtype_size: u64) -> u64 {
    files
        .iter()
        .flat_map(|f| f.elements.iter())
        .map(|(dtype, &n)| {
            let each = if is_float(dtype) {
                run_dtype_size
            } else {
                dtype_size(dtype).unwrap_or(8)
            };
            n.saturating_mul(each)
        })
        .fold(0u64, u64::saturating_add)
}

/// Refuses a revision whose loaded tensors would exceed the budget.
pub fn check_budget(needed: u64, budget: u64) -> Result<()> {
    if needed > budget {
        return Err(Stop::failed(format!(
            "model needs {}, over the {} memory budget",
            human_bytes(needed),
            human_bytes(budget)
        )));
    }
    Ok(())
}
