//! Peak resident memory of this process, from `/proc/self/status`.
//!
//! The peak (`VmHWM`) is process-wide. At the start of a run we ask Linux to
//! reset it (writing `5` to `/proc/self/clear_refs`), so the figure reported
//! is the peak during the run when the reset works, and the process's
//! lifetime peak when it does not (the log says which).

/// Resets the peak to the current resident size; true when Linux allowed it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident set size in bytes, if the platform tells.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// The current resident set size in bytes, if the platform tells.
pub fn rss_bytes() -> Option<u64> {
    status_kb("VmRSS:").map(|kb| kb * 1024)
}

fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_peak_on_linux() {
        if cfg!(target_os = "linux") {
            let peak = super::peak_rss_bytes().unwrap();
            assert!(peak >= super::rss_bytes().unwrap() / 2);
        }
    }
}
