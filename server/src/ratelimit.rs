//! A fixed-window rate limiter for sign-in and token requests, keyed by IP
//! address and by account. Per process: each replica limits on its own.

use std::collections::HashMap;
use std::sync::Mutex;

/// Counts hits per key in one-minute windows.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// Counts a hit; false when `key` has used up `per_minute` this minute.
    pub fn allow(&self, key: &str, per_minute: u32, now_ms: i64) -> bool {
        let minute = now_ms / 60_000;
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if w.len() > 100_000 {
            w.retain(|_, (m, _)| *m == minute);
        }
        let entry = w.entry(key.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1 <= per_minute
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limits_per_window() {
        let r = super::RateLimiter::default();
        assert!((0..3).all(|_| r.allow("ip:1", 3, 0)));
        assert!(!r.allow("ip:1", 3, 1));
        assert!(r.allow("ip:2", 3, 1));
        assert!(r.allow("ip:1", 3, 60_000));
    }
}
