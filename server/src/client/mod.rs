//! Who the client is and how it reached this server: the one place that
//! computes a request's client address (for rate limits, connection caps and
//! the audit log) and whether it came over HTTPS (for the session cookie's
//! `Secure` attribute and HSTS).
//!
//! `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are believed
//! only when the socket peer is one of the configured trusted proxies
//! (`--trusted-proxies`, none by default). [`identify`] runs before every
//! handler: it removes those headers from requests of anyone else, so no
//! handler can be fooled by them, and records the client address once.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::AppState;

pub mod proxies;

use proxies::{X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, client_addr, is_trusted};

/// The client address of a request, computed once by [`identify`].
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// The client's address as text, when the server knows it (the audit log's form).
pub struct ClientIp(pub Option<String>);

impl ClientIp {
    /// The client address of a request, from what [`identify`] recorded (else the socket peer).
    pub fn of(parts: &Parts) -> Self {
        let addr = parts
            .extensions
            .get::<ClientAddr>()
            .map(|c| c.0)
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip().to_canonical())
            });
        ClientIp(addr.map(|a| a.to_string()))
    }

    /// The address, or `?` when unknown (as a rate-limit key).
    pub fn key(&self) -> &str {
        self.0.as_deref().unwrap_or("?")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

/// Whether the request reached the public side over HTTPS: the public URL is
/// `https://`, or a trusted proxy said so (`X-Forwarded-Proto: https`, which
/// [`identify`] removed from anyone else's requests).
pub fn is_https(state: &AppState, headers: &HeaderMap) -> bool {
    let public_https = state
        .config
        .web
        .public_url
        .as_deref()
        .and_then(|u| u.get(..8));
    if public_https.is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
        return true;
    }
    headers
        .get(X_FORWARDED_PROTO)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// This server's URL as its clients reach it, without a trailing `/`: `--public-url`, else
/// the scheme and host a trusted proxy forwarded (`X-Forwarded-Proto`, `X-Forwarded-Host`,
/// which [`identify`] removed from anyone else's requests), else the request's `Host`.
pub fn public_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = state
        .config
        .web
        .public_url
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        return url.trim_end_matches('/').to_string();
    }
    let get = |name: &header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_string)
    };
    let proto = if is_https(state, headers) {
        "https"
    } else {
        "http"
    };
    let host = get(&X_FORWARDED_HOST)
        .or_else(|| get(&header::HOST))
        .unwrap_or_else(|| "localhost".into());
    format!("{proto}://{host}")
}

/// `Strict-Transport-Security` on HTTPS answers: a year, this host only.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// The outermost middleware of the router: forwarded headers from untrusted
/// peers removed, the client address recorded, HSTS added over HTTPS.
pub async fn identify(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let proxies = &state.config.limits.trusted_proxies;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if !peer.is_some_and(|p| is_trusted(proxies, p)) {
        let h = req.headers_mut();
        for name in [
            X_FORWARDED_FOR,
            X_FORWARDED_PROTO,
            X_FORWARDED_HOST,
            header::FORWARDED,
        ] {
            h.remove(name);
        }
    }
    if let Some(peer) = peer {
        let addr = client_addr(proxies, peer, req.headers());
        req.extensions_mut().insert(ClientAddr(addr));
    }
    let https = is_https(&state, req.headers());
    let mut res = next.run(req).await;
    if https {
        res.headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::proxies::*;
    use super::*;

    fn nets(list: &[&str]) -> Vec<ProxyNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(X_FORWARDED_FOR, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_networks() {
        assert_eq!("".parse::<TrustedProxies>().unwrap().len(), 0);
        assert_eq!(
            " 10.0.0.0/8, ,::1 "
                .parse::<TrustedProxies>()
                .unwrap()
                .len(),
            2
        );
        assert!("10.0.0.1,nope".parse::<TrustedProxies>().is_err());
        assert_eq!(
            "10.1.2.3".parse::<ProxyNet>().unwrap().to_string(),
            "10.1.2.3/32"
        );
        assert_eq!(
            " 10.1.2.3/8 ".parse::<ProxyNet>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!("::1".parse::<ProxyNet>().unwrap().to_string(), "::1/128");
        assert!("10.0.0.0/33".parse::<ProxyNet>().is_err());
        assert!("proxy.local".parse::<ProxyNet>().is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let none = nets(&[]);
        let lb = nets(&["10.0.0.0/8", "127.0.0.1"]);
        let h = xff(&["203.0.113.9"]);
        // No proxy trusted: the peer, whatever the header says.
        assert_eq!(client_addr(&none, ip("127.0.0.1"), &h), ip("127.0.0.1"));
        // An untrusted peer is the client even when proxies are configured.
        assert_eq!(client_addr(&lb, ip("198.51.100.1"), &h), ip("198.51.100.1"));
        // Through a trusted proxy: the address it saw.
        assert_eq!(client_addr(&lb, ip("10.0.0.5"), &h), ip("203.0.113.9"));
        // A forged hop left of the real client is ignored; trusted hops are skipped.
        let h = xff(&["1.1.1.1, 203.0.113.9", "10.0.0.7"]);
        assert_eq!(client_addr(&lb, ip("10.0.0.5"), &h), ip("203.0.113.9"));
        // Garbage ends the chain at the last trusted hop.
        let h = xff(&["203.0.113.9, garbage, 10.0.0.7"]);
        assert_eq!(client_addr(&lb, ip("10.0.0.5"), &h), ip("10.0.0.7"));
        // No header: the proxy itself.
        assert_eq!(
            client_addr(&lb, ip("10.0.0.5"), &HeaderMap::new()),
            ip("10.0.0.5")
        );
        // Ports and IPv4-mapped peers.
        let h = xff(&["[2001:db8::1]:4711"]);
        assert_eq!(
            client_addr(&lb, ip("::ffff:127.0.0.1"), &h),
            ip("2001:db8::1")
        );
    }
}
