//! Progress on stderr: bars only when stderr is a terminal and `--quiet` is
//! off; plain status lines otherwise (none at all with `--quiet`).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Files smaller than this get no bar of their own, only the total.
const PER_FILE_BAR_MIN: u64 = 8 << 20;

/// How a command reports what it does.
#[derive(Clone)]
pub struct Reporter {
    multi: Option<MultiProgress>,
    quiet: bool,
}

impl Reporter {
    pub fn new(quiet: bool) -> Self {
        let bars = !quiet && std::io::stderr().is_terminal();
        let multi = bars.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self { multi, quiet }
    }

    /// A status line on stderr (kept above any bars).
    pub fn say(&self, line: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(line.as_ref());
            }
            None => eprintln!("{}", line.as_ref()),
        }
    }

    /// The total bar of a transfer or of hashing: bytes, rate, ETA.
    pub fn total(&self, verb: &str, bytes: u64) -> ProgressBar {
        let Some(m) = &self.multi else {
            return ProgressBar::hidden();
        };
        let bar = m.add(ProgressBar::new(bytes));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>10.bold} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(verb.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// A bar for one file; hidden for small files.
    pub fn file(&self, name: &str, bytes: u64) -> ProgressBar {
        let Some(m) = &self.multi else {
            return ProgressBar::hidden();
        };
        if bytes < PER_FILE_BAR_MIN {
            return ProgressBar::hidden();
        }
        let bar = m.add(ProgressBar::new(bytes));
        bar.set_style(
            ProgressStyle::with_template(
                "  {wide_msg} {bytes}/{total_bytes} {binary_bytes_per_sec}",
            )
            .expect("valid template"),
        );
        bar.set_message(name.to_string());
        bar
    }
}

/// Bytes for people: `1.5 GB` (powers of 1000, as transfer rates are usually read).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A count of parameters for people: `7.2B`, `350M`.
pub fn human_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}K", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.2}B", n as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_for_people() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(human_count(7_240_000_000), "7.24B");
        assert_eq!(human_count(350_000_000), "350.0M");
    }
}
