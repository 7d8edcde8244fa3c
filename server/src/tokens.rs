//! Creating API tokens: [`create`] is the one path every surface takes (the
//! native API that the `granary token create` CLI calls, and the web form), so
//! a created token is always bounded by its creator: no broader scope, the
//! same namespace when the creator is limited to one, and an expiry no later
//! than the creator's (a creator that expires cannot make a token that does
//! not). A web session acts with the user's own password, so it is bounded by
//! the user's rights alone. The only other way to get a token is
//! `granary-server user create`, run by the operator on the server itself.

use crate::accounts::{audit_event, rate_limit};
use crate::app::AppState;
use crate::auth::Caller;
use crate::client::ClientIp;
use crate::db::users::{self, TokenSpec};
use crate::error::{AppError, AppResult};
use granary_core::Role;
use granary_core::api::NewToken;

const DAY_MS: i64 = 86_400_000;

/// What the caller asks for.
#[derive(Debug, Default)]
pub struct TokenRequest<'a> {
    pub name: &'a str,
    /// `read`, `write` or `admin`.
    pub scope: &'a str,
    /// Only models under this owner.
    pub owner: Option<&'a str>,
    /// Expires this many days from now.
    pub expires_days: Option<i64>,
    /// Expires at this time (ms since the epoch).
    pub expires_at: Option<i64>,
}

/// Creates a token for the calling user, never more than the caller may do itself;
/// rate limited per address and per user, and recorded in the audit log.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    req: TokenRequest<'_>,
    ip: &ClientIp,
) -> AppResult<NewToken> {
    let user = caller.require_user()?.clone();
    rate_limit(
        state,
        &[format!("ip:{}", ip.key()), format!("user:{}", user.id)],
    )?;
    let now = granary_core::time::now_ms();
    let (scope, owner, expires_at) = bound(caller, &req, now)?;
    let name = req.name.trim();
    let name = if name.is_empty() { "api" } else { name };
    let spec = TokenSpec {
        name,
        scope: scope.as_str(),
        owner_limit: owner.as_deref(),
        expires_at,
    };
    let (id, token) = users::create_scoped_token(&state.db, &user.id, &spec, now).await?;
    audit_event(
        state,
        Some(&user.name),
        "token.created",
        Some(&id),
        Some(scope.as_str()),
        ip,
    )
    .await;
    Ok(NewToken {
        id,
        token,
        name: name.to_string(),
        scope,
        owner,
        expires_at,
    })
}

/// The scope, owner limit and expiry of a new token, or why the caller may not make it.
fn bound(
    caller: &Caller,
    req: &TokenRequest<'_>,
    now: i64,
) -> AppResult<(Role, Option<String>, Option<i64>)> {
    let wanted = Role::parse(req.scope).ok_or_else(|| {
        AppError::Invalid(format!(
            "scope `{}` is not one of read, write, admin",
            req.scope
        ))
    })?;
    let held = caller.scope.unwrap_or(Role::Read);
    if wanted > held {
        return Err(AppError::Forbidden(format!(
            "a `{}` token cannot create a `{}` token",
            held.as_str(),
            wanted.as_str()
        )));
    }
    let owner = match (&caller.owner_limit, req.owner) {
        (Some(limit), Some(o)) if !limit.eq_ignore_ascii_case(o) => {
            return Err(AppError::Forbidden(format!(
                "this token is limited to `{limit}`: a token it creates is limited to `{limit}` too"
            )));
        }
        (Some(limit), _) => Some(limit.clone()),
        (None, o) => o.map(str::to_string),
    };
    if let Some(o) = &owner {
        granary_core::names::validate_owner(o).map_err(|e| AppError::Invalid(e.to_string()))?;
    }
    let expires_at = match (req.expires_days, req.expires_at) {
        (Some(_), Some(_)) => {
            return Err(AppError::Invalid(
                "give `expires_days` or `expires_at`, not both".into(),
            ));
        }
        (Some(days), None) if days < 1 => {
            return Err(AppError::Invalid(format!(
                "`expires_days` must be 1 or more, not {days}"
            )));
        }
        (Some(days), None) => Some(now.saturating_add(days.saturating_mul(DAY_MS))),
        (None, Some(at)) if at <= now => {
            return Err(AppError::Invalid(
                "`expires_at` is in the past: give a time to come (ms since the epoch)".into(),
            ));
        }
        (None, at) => at,
    };
    if let Some(limit) = caller.expires_at
        && expires_at.is_none_or(|at| at > limit)
    {
        let days = (limit - now) / DAY_MS;
        let hint = if days >= 1 {
            format!("`expires_days` of at most {days}, or ")
        } else {
            String::new()
        };
        return Err(AppError::Forbidden(format!(
            "this token expires at {} and cannot create a token that outlives it: give {hint}`expires_at` \
             of at most {limit} (ms since the epoch)",
            granary_core::time::rfc3339(limit)
        )));
    }
    Ok((wanted, owner, expires_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(scope: &str, owner: Option<&str>, expires_at: Option<i64>) -> Caller {
        Caller {
            scope: Role::parse(scope),
            owner_limit: owner.map(str::to_string),
            expires_at,
            ..Caller::default()
        }
    }

    fn req<'a>(
        scope: &'a str,
        owner: Option<&'a str>,
        days: Option<i64>,
        at: Option<i64>,
    ) -> TokenRequest<'a> {
        TokenRequest {
            name: "t",
            scope,
            owner,
            expires_days: days,
            expires_at: at,
        }
    }

    #[test]
    fn a_token_is_bounded_by_its_creator() {
        let now = 1_000 * DAY_MS;
        let unbounded = caller("admin", None, None);
        assert_eq!(
            bound(&unbounded, &req("write", None, None, None), now).unwrap(),
            (Role::Write, None, None)
        );
        // Scope.
        assert!(
            bound(
                &caller("read", None, None),
                &req("write", None, None, None),
                now
            )
            .is_err()
        );
        // Namespace: inherited, and no other.
        let limited = caller("admin", Some("alice"), None);
        assert_eq!(
            bound(&limited, &req("read", None, None, None), now)
                .unwrap()
                .1
                .as_deref(),
            Some("alice")
        );
        assert!(bound(&limited, &req("read", Some("bob"), None, None), now).is_err());
        // Expiry: no later than the creator's, and never none under one that expires.
        let day = caller("admin", None, Some(now + DAY_MS));
        let err = bound(&day, &req("read", None, None, None), now).unwrap_err();
        assert!(err.to_string().contains("outlives"), "{err}");
        assert!(bound(&day, &req("read", None, Some(2), None), now).is_err());
        assert!(bound(&day, &req("read", None, None, Some(now + 2 * DAY_MS)), now).is_err());
        assert_eq!(
            bound(&day, &req("read", None, None, Some(now + DAY_MS)), now)
                .unwrap()
                .2,
            Some(now + DAY_MS)
        );
        assert_eq!(
            bound(
                &caller("admin", None, Some(now + 9 * DAY_MS)),
                &req("read", None, Some(3), None),
                now
            )
            .unwrap()
            .2,
            Some(now + 3 * DAY_MS)
        );
        // Nonsense expiries.
        assert!(bound(&unbounded, &req("read", None, Some(0), None), now).is_err());
        assert!(bound(&unbounded, &req("read", None, None, Some(now - 1)), now).is_err());
        assert!(bound(&unbounded, &req("read", None, Some(1), Some(now + 1)), now).is_err());
    }
}
