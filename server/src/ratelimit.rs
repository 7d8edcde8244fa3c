//! A fixed-window rate limiter (sign-in failures, token requests, requests per
//! token and per anonymous client address), keyed by text. Per process: each
//! replica limits on its own.

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

    /// The hits `key` counted this minute, counting none.
    pub fn used(&self, key: &str, now_ms: i64) -> u32 {
        let minute = now_ms / 60_000;
        let w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        w.get(key)
            .filter(|(m, _)| *m == minute)
            .map_or(0, |(_, n)| *n)
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
        assert_eq!(r.used("ip:1", 60_001), 1);
        assert_eq!(r.used("ip:1", 120_000), 0);
        assert_eq!(r.used("ip:3", 0), 0);
    }
}
