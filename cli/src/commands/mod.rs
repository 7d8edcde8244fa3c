//! The commands that are one or two API calls each; `push` and `pull` have
//! their own modules.

pub mod auth;
pub mod branch;
pub mod cache;
pub mod info;
pub mod list;
pub mod log;
pub mod org;
pub mod repo;
pub mod signing;
pub mod tag;
pub mod token;
pub mod webhook;
