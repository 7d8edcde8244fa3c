//! JSON bodies of the native API (`/api/v1/...`), one module per resource, all
//! re-exported here. docs/API.md describes the endpoints; these types are the
//! contract both sides compile against, and with the `openapi` feature they
//! describe themselves (the server's `GET /api/v1/openapi.json`).

mod accounts;
mod models;
mod signing;
mod uploads;
mod verification;
mod webhooks;

pub use accounts::*;
pub use models::*;
pub use signing::*;
pub use uploads::*;
pub use verification::*;
pub use webhooks::*;

use serde::{Deserialize, Serialize};

/// The one error shape of every API: `{"error": "<sentence>", "code": "<machine code>"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    pub code: String,
}

/// Machine-readable error codes of [`ErrorBody::code`].
pub mod codes {
    pub const NOT_FOUND: &str = "not_found";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const FORBIDDEN: &str = "forbidden";
    pub const GATED: &str = "gated";
    pub const CONFLICT: &str = "conflict";
    pub const INVALID: &str = "invalid";
    pub const DIGEST_MISMATCH: &str = "digest_mismatch";
    /// A part of an upload session was already received; parts are never replaced.
    pub const PART_RECEIVED: &str = "part_received";
    pub const TOO_LARGE: &str = "too_large";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const RANGE: &str = "range_not_satisfiable";
    pub const INTERNAL: &str = "internal";
}

/// Response headers of the native API.
pub mod headers {
    /// The full id of the revision a file or manifest was served from.
    pub const REVISION: &str = "x-granary-revision";
    /// The request id, echoed on every response.
    pub const REQUEST_ID: &str = "x-request-id";
}
