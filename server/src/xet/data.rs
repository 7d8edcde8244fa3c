//! Xorb bytes for downloads (`GET /xet/data/{xorb}?…`). `hf_xet` fetches them
//! without credentials, so each URL carries its own: an HMAC over the xorb,
//! the byte range it may read and an expiry. A URL is made only for the ranges
//! of a file its reader may download (`reconstruction.rs`), so it cannot be
//! widened to the rest of a xorb, which may hold chunks of other files.

use std::ops::Range;

use hmac::{Hmac, Mac};

use crate::app::App;
use crate::error::{AppError, AppResult};
use granary_core::time::now_secs;

const KEY_PURPOSE: &str = "granary-xet-data-url-v1";

/// A signed grant to read bytes `range` (end exclusive) of a xorb until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataGrant {
    pub xorb: String,
    pub range: Range<u64>,
    pub exp: u64,
}

impl DataGrant {
    fn mac(&self, app: &App) -> AppResult<Hmac<sha2::Sha256>> {
        let key = crate::url_keys::derived(app, KEY_PURPOSE)?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(AppError::internal)?;
        mac.update(
            format!(
                "{}\n{}\n{}\n{}",
                self.xorb, self.range.start, self.range.end, self.exp
            )
            .as_bytes(),
        );
        Ok(mac)
    }

    /// The URL of this grant under `cas_url`.
    pub fn url(&self, app: &App, cas_url: &str) -> AppResult<String> {
        let sig = hex::encode(self.mac(app)?.finalize().into_bytes());
        Ok(format!(
            "{cas_url}/data/{}?start={}&end={}&exp={}&sig={sig}",
            self.xorb, self.range.start, self.range.end, self.exp
        ))
    }

    /// The grant a URL's query carries, if its signature checks and it has not expired.
    pub fn from_query(app: &App, xorb: &str, query: &str) -> AppResult<Self> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let bad =
            || AppError::Forbidden("this xorb URL is not valid: ask for the file again".into());
        let number = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok()).ok_or_else(bad);
        let grant = DataGrant {
            xorb: xorb.to_string(),
            range: number("start")?..number("end")?,
            exp: number("exp")?,
        };
        let sig = get("sig")
            .and_then(|s| hex::decode(s).ok())
            .ok_or_else(bad)?;
        grant.mac(app)?.verify_slice(&sig).map_err(|_| bad())?;
        if grant.exp <= now_secs() {
            // 403, so that the client asks for the reconstruction (and new URLs) again.
            return Err(AppError::Forbidden(
                "this xorb URL has expired: ask for the file again".into(),
            ));
        }
        Ok(grant)
    }
}
