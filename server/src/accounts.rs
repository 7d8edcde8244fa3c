//! What every account surface (native API, web) shares: the sign-in and token
//! rate limit, and the audit record of account events.

use crate::app::AppState;
use crate::client::ClientIp;
use crate::db::events::{self as audit, Event};
use crate::error::{AppError, AppResult};

/// Records a security event; a failure to record is logged, never fatal.
pub async fn audit_event(
    state: &AppState,
    actor: Option<&str>,
    event: &str,
    subject: Option<&str>,
    detail: Option<&str>,
    ip: &ClientIp,
) {
    let e = Event {
        actor,
        event,
        subject,
        detail,
        ip: ip.0.as_deref(),
    };
    if let Err(err) = audit::record(&state.db, &e, granary_core::time::now_ms()).await {
        tracing::error!(error = %err, event, "could not write the audit log");
    }
}

/// Refuses a caller or address that exceeded the sign-in/token rate.
pub fn rate_limit(state: &AppState, keys: &[String]) -> AppResult<()> {
    let per_minute = state.config.accounts.auth_rate_per_minute;
    let now = granary_core::time::now_ms();
    for key in keys {
        if !state.rate_limiter.allow(key, per_minute, now) {
            return Err(AppError::TooManyRequests(format!(
                "too many sign-in or token requests ({per_minute} a minute allowed): wait a minute"
            )));
        }
    }
    Ok(())
}
