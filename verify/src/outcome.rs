//! Why a verification stopped early: the model's fault, or the infrastructure's.

/// A verification that cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The revision is broken, hostile or over a budget (status `failed`).
    Failed(String),
    /// Something outside the revision went wrong, such as an I/O error (status `error`).
    Error(String),
}

impl Stop {
    pub fn failed(reason: impl Into<String>) -> Self {
        Stop::Failed(reason.into())
    }

    pub fn error(reason: impl Into<String>) -> Self {
        Stop::Error(reason.into())
    }

    /// A candle error in the model's forward pass: the model's fault.
    pub fn forward(e: candle_core::Error) -> Self {
        Stop::Failed(format!(
            "the forward pass failed: {}",
            first_line(&e.to_string())
        ))
    }
}

/// Candle errors may carry a backtrace after the first line.
pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

/// `1.0 GB`, `3.2 MB`, `512 bytes`: sizes as reasons print them.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, f64); 3] = [("GB", 1e9), ("MB", 1e6), ("KB", 1e3)];
    for (unit, size) in UNITS {
        if n as f64 >= size {
            return format!("{:.1} {unit}", n as f64 / size);
        }
    }
    format!("{n} bytes")
}

pub type Result<T> = std::result::Result<T, Stop>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(3_200_000_000), "3.2 GB");
        assert_eq!(human_bytes(1_000_000_000), "1.0 GB");
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(2_500), "2.5 KB");
    }
}
