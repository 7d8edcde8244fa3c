//! Web sessions as short-lived JWTs: one fixed algorithm (HS256), `exp`,
//! `iss` and `aud` always validated, the signing key from configuration or
//! generated once into the data directory. A session id inside the token is
//! checked against the `sessions` table, so signing out revokes it. The
//! same secret keys the CSRF tokens of the web forms, each an HMAC of what
//! the form is bound to (the session, or a pre-session id).

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "granary";
pub const AUDIENCE: &str = "granary-web";
/// The cookie holding the session JWT.
pub const COOKIE: &str = "granary_session";
/// The cookie holding the pre-session id that the CSRF tokens of the sign-in and sign-up
/// forms are bound to (forms of a session are bound to the session).
pub const CSRF_COOKIE: &str = "granary_csrf";

/// What a session token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The session id (a row of `sessions`).
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// The keys that sign and check sessions.
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Keys the CSRF tokens (derived from the secret, so it is never used twice).
    csrf: [u8; 32],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

impl SessionKeys {
    pub fn from_secret(secret: &[u8]) -> anyhow::Result<Self> {
        let csrf = hmac_sha256(secret, b"granary-csrf-key");
        Ok(Self {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            csrf,
        })
    }

    /// The CSRF token of forms bound to `binding` (`session:<id>` or `pre:<id>`): 64 hex digits
    /// that no one without the secret can make for another binding.
    pub fn csrf_token(&self, binding: &str) -> String {
        hex::encode(hmac_sha256(&self.csrf, binding.as_bytes()))
    }

    /// The configured secret, else the one kept in `<data-dir>/session.key`, made on first start.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(s) = configured {
            anyhow::ensure!(
                s.len() >= 32,
                "the session secret must be at least 32 characters"
            );
            return Self::from_secret(s.as_bytes());
        }
        let path = data_dir.join("session.key");
        loop {
            match std::fs::read_to_string(&path) {
                Ok(s) if s.trim().len() >= 64 => return Self::from_secret(s.trim().as_bytes()),
                Ok(_) => {
                    // Cut short (a crash while an older version wrote it): make a new one,
                    // which signs everybody out.
                    tracing::warn!(file = %path.display(), "the session key is damaged: making a new one");
                    std::fs::remove_file(&path)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            let mut bytes = [0u8; 32];
            rand::Rng::fill(&mut rand::rng(), &mut bytes);
            match crate::data_dir::create_secret_file(&path, hex::encode(bytes).as_bytes()) {
                // Another process made it first: read theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                other => other?,
            }
        }
    }

    pub fn issue(&self, claims: &Claims) -> jsonwebtoken::errors::Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Checks signature, algorithm, expiry, issuer and audience.
    pub fn verify(&self, token: &str) -> jsonwebtoken::errors::Result<Claims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256];
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 0;
        v.validate_exp = true;
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)?.claims)
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            sid: "s1".into(),
            iat: 0,
            exp,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        }
    }

    fn future() -> i64 {
        granary_core::time::now_ms() / 1000 + 600
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn accepts_its_own_tokens() {
        let keys = SessionKeys::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
        let t = keys.issue(&claims(future())).unwrap();
        assert_eq!(keys.verify(&t).unwrap().sub, "u1");
    }

    #[test]
    fn csrf_tokens_are_bound() {
        let keys = SessionKeys::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
        let other = SessionKeys::from_secret(b"another-secret-another-secret-xx").unwrap();
        let t = keys.csrf_token("session:s1");
        assert_eq!(t.len(), 64);
        assert_eq!(t, keys.csrf_token("session:s1"));
        assert_ne!(t, keys.csrf_token("session:s2"));
        assert_ne!(t, keys.csrf_token("pre:s1"));
        assert_ne!(t, other.csrf_token("session:s1"));
    }

    #[test]
    fn refuses_attacks() {
        let keys = SessionKeys::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
        let other = SessionKeys::from_secret(b"another-secret-another-secret-xx").unwrap();
        // Signed with another key.
        assert!(
            keys.verify(&other.issue(&claims(future())).unwrap())
                .is_err()
        );
        // Expired.
        assert!(keys.verify(&keys.issue(&claims(1)).unwrap()).is_err());
        // Wrong audience and issuer.
        let mut c = claims(future());
        c.aud = "someone-else".into();
        assert!(keys.verify(&keys.issue(&c).unwrap()).is_err());
        let mut c = claims(future());
        c.iss = "evil".into();
        assert!(keys.verify(&keys.issue(&c).unwrap()).is_err());
        // alg: none with no signature.
        let payload = serde_json::to_value(claims(future())).unwrap();
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(&payload)
        );
        assert!(keys.verify(&none).is_err());
        // HS/RS confusion: an RS256 header over an HMAC signature made with the secret.
        let good = keys.issue(&claims(future())).unwrap();
        let sig = good.rsplit('.').next().unwrap();
        let rs = format!(
            "{}.{}.{sig}",
            b64(&serde_json::json!({"alg": "RS256", "typ": "JWT"})),
            b64(&payload)
        );
        assert!(keys.verify(&rs).is_err());
        // Tampered payload under the original signature.
        let mut tampered = claims(future());
        tampered.sub = "admin".into();
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_value(&tampered).unwrap()),
            parts[2]
        );
        assert!(keys.verify(&forged).is_err());
    }
}
