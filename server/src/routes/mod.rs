//! Handlers, one module per resource. `router.rs` lists every route.

pub mod accounts;
pub mod commits;
pub mod files;
pub mod hf;
pub mod meta;
pub mod models;
pub mod openapi;
pub mod signing;
pub mod uploads;
pub mod verification;
pub mod webhooks;
pub mod xet;

/// Pagination limit: 1–100, default 50.
pub fn page_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(50).clamp(1, 100)
}
