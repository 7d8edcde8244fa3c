//! The step-by-step log of one verification, kept short enough to store.

use std::time::Instant;

/// The report keeps at most this many bytes of log (the end, if longer).
const MAX_LOG_BYTES: usize = 4096;

/// Lines stamped with milliseconds since the start of the run.
pub struct RunLog {
    start: Instant,
    lines: Vec<String>,
}

impl RunLog {
    pub fn new() -> Self {
        RunLog {
            start: Instant::now(),
            lines: Vec::new(),
        }
    }

    pub fn note(&mut self, line: impl AsRef<str>) {
        let ms = self.start.elapsed().as_secs_f64() * 1e3;
        self.lines.push(format!("[{ms:>8.1} ms] {}", line.as_ref()));
    }

    /// The log as text; when longer than the cap, its first line and its end.
    pub fn render(&self) -> String {
        let all = self.lines.join("\n");
        if all.len() <= MAX_LOG_BYTES {
            return all;
        }
        let mut cut = all.len() - (MAX_LOG_BYTES - 200);
        while !all.is_char_boundary(cut) {
            cut += 1;
        }
        let first = self.lines.first().map(String::as_str).unwrap_or("");
        format!("{first}\n[... earlier lines left out ...]\n{}", &all[cut..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_logs_keep_their_end() {
        let mut log = RunLog::new();
        for i in 0..1000 {
            log.note(format!("step {i}"));
        }
        let text = log.render();
        assert!(text.len() <= MAX_LOG_BYTES + 100);
        assert!(text.contains("step 0"));
        assert!(text.ends_with("step 999"));
    }
}
