//! CAS access tokens: what `xet-read-token` and `xet-write-token` hand out, and
//! what every CAS request must carry (`Authorization: Bearer …`).
//!
//! A token is `gx1.<claims>.<mac>`: base64url JSON claims (model, revision or
//! branch, read or write, the API token it was issued to, expiry) and an
//! HMAC-SHA256 over them with a key derived from the server's URL-signing
//! secret (`url_keys.rs`). Nothing is stored: a token checks by itself. Yet it
//! grants no more than its caller still has: every CAS request looks its API
//! token up again and re-checks the caller's rights on the model, so revoking a
//! token, making a model private or closing a gate takes effect at once, not
//! when the CAS token expires.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use granary_core::ModelId;
use granary_core::time::now_secs;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::auth::Caller;
use crate::db::models::ModelRow;
use crate::error::{AppError, AppResult};

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read the reconstructions of one revision's files.
    Read,
    /// Upload xorbs and shards for one branch of a model.
    Write,
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub scope: Scope,
    /// The model's row id (a model deleted and created again is another model).
    pub model: String,
    /// `owner/name`.
    pub repo: String,
    /// The revision id (read) or the branch (write).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The API token it was issued to; none for an anonymous reader.
    pub token: Option<String>,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

const PREFIX: &str = "gx1.";
const KEY_PURPOSE: &str = "granary-xet-cas-token-v1";

fn mac(app: &App, payload: &str) -> AppResult<Hmac<sha2::Sha256>> {
    let key = crate::url_keys::derived(app, KEY_PURPOSE)?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(AppError::internal)?;
    mac.update(payload.as_bytes());
    Ok(mac)
}

/// Signs `claims` into a token.
pub fn issue(app: &App, claims: &Claims) -> AppResult<String> {
    let payload = B64.encode(serde_json::to_vec(claims).map_err(AppError::internal)?);
    let sig = B64.encode(mac(app, &payload)?.finalize().into_bytes());
    Ok(format!("{PREFIX}{payload}.{sig}"))
}

/// The claims of a token whose signature checks and that has not expired.
pub fn decode(app: &App, token: &str) -> AppResult<Claims> {
    let bad = || AppError::Unauthorized("the Xet token is not valid: ask for a new one".into());
    let (payload, sig) = token
        .strip_prefix(PREFIX)
        .and_then(|t| t.split_once('.'))
        .ok_or_else(bad)?;
    let sig = B64.decode(sig).map_err(|_| bad())?;
    mac(app, payload)?.verify_slice(&sig).map_err(|_| bad())?;
    let claims: Claims = B64
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(bad)?;
    if claims.exp <= now_secs() {
        return Err(AppError::Unauthorized(
            "the Xet token has expired: ask for a new one".into(),
        ));
    }
    Ok(claims)
}

/// A checked CAS request: who asks, on which model, with what claims.
pub struct Grant {
    pub caller: Caller,
    pub model: ModelRow,
    pub claims: Claims,
}

/// Checks the bearer token of a CAS request for `needed`: signature and expiry,
/// scope, then that its API token is still live and that the caller may still
/// read (and for writing, write) the model.
pub async fn authorise(app: &App, bearer: Option<&str>, needed: Scope) -> AppResult<Grant> {
    let token = bearer.ok_or_else(|| {
        AppError::Unauthorized("a Xet token is needed (Authorization: Bearer …)".into())
    })?;
    let claims = decode(app, token)?;
    if needed == Scope::Write && claims.scope != Scope::Write {
        return Err(AppError::Forbidden(
            "this Xet token is for reading; uploads need a write token".into(),
        ));
    }
    let revoked = || {
        AppError::Unauthorized("the token this Xet token was issued to is no longer valid".into())
    };
    let caller = match &claims.token {
        Some(id) => {
            let (user, grant) =
                crate::db::users::find_by_token_id(&app.db, id, granary_core::time::now_ms())
                    .await?
                    .ok_or_else(revoked)?;
            Caller::from_token(user, grant)
        }
        None => Caller::default(),
    };
    let lost =
        || AppError::Unauthorized("this Xet token no longer grants access to the model".into());
    let id: ModelId = claims.repo.parse().map_err(|_| lost())?;
    let model = crate::db::models::find(&app.db, &id)
        .await?
        .filter(|m| m.id == claims.model)
        .ok_or_else(lost)?;
    if !crate::access::can_read(&app.db, &caller, &model).await? {
        return Err(lost());
    }
    match claims.scope {
        Scope::Read => crate::access::check_download(&app.db, &caller, &model).await?,
        Scope::Write => {
            caller.require_writer()?;
            crate::access::require_role(&app.db, &caller, &model.owner, crate::access::Role::Write)
                .await?;
        }
    }
    Ok(Grant {
        caller,
        model,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_round_trip_with_their_wire_names() {
        let c = Claims {
            scope: Scope::Write,
            model: "m1".into(),
            repo: "alice/m".into(),
            reference: "main".into(),
            token: Some("t1".into()),
            exp: 10,
        };
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["scope"], "write");
        assert_eq!(json["ref"], "main");
        assert_eq!(serde_json::from_value::<Claims>(json).unwrap(), c);
    }
}
