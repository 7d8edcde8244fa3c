//! Hash states of uploads in progress, so that completing an upload needs no
//! second read of its parts.

use std::collections::HashMap;
use std::sync::Mutex;

use granary_core::Sha256Hasher;

/// SHA-256 state of uploads whose parts have so far arrived in order: part n
/// streaming in while parts 0..n are hashed is hashed as it streams, so
/// completion needs no second pass over the bytes. Only the attempt that is
/// recorded as a part advances the state, so the state always covers the
/// recorded bytes. Process-local; a session continued on another replica, or
/// parts sent out of order, fall back to re-reading the parts at completion.
#[derive(Debug, Default)]
pub struct RunningDigests(Mutex<HashMap<String, (u64, Sha256Hasher)>>);

impl RunningDigests {
    /// A copy of the state, if `n` is the next part in order.
    pub(super) fn resume(&self, id: &str, n: u64) -> Option<Sha256Hasher> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(id) {
            Some((next, h)) if *next == n => Some(h.clone()),
            None if n == 0 => Some(Sha256Hasher::new()),
            _ => None,
        }
    }

    /// Stores the state after part `n` was recorded.
    pub(super) fn advance(&self, id: &str, n: u64, hasher: Sha256Hasher) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let expected = map.get(id).map_or(0, |(next, _)| *next);
        if expected == n {
            map.insert(id.to_string(), (n + 1, hasher));
        }
    }

    /// The finished state, if every one of `parts` parts was hashed in order.
    pub(super) fn take_complete(&self, id: &str, parts: u64) -> Option<Sha256Hasher> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.remove(id) {
            Some((next, h)) if next == parts => Some(h),
            _ => None,
        }
    }

    pub(super) fn forget(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}
