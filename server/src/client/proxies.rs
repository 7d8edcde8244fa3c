//! Which reverse proxies are believed (`--trusted-proxies`), and the client
//! address they vouch for.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::{HeaderMap, HeaderName};

/// A trusted proxy: one address, or a network in CIDR notation (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet(ipnet::IpNet);

impl FromStr for ProxyNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Self(ip.to_canonical().into()));
        }
        s.parse::<ipnet::IpNet>()
            .map(|n| Self(n.trunc()))
            .map_err(|_| format!("`{s}` is neither an IP address nor a network like 10.0.0.0/8"))
    }
}

impl std::fmt::Display for ProxyNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The reverse proxies whose forwarded headers are believed (`--trusted-proxies`):
/// a comma-separated list of addresses and networks; empty (the default) means none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<ProxyNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let nets = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::parse);
        Ok(Self(nets.collect::<Result<_, _>>()?))
    }
}

impl std::ops::Deref for TrustedProxies {
    type Target = [ProxyNet];
    fn deref(&self) -> &[ProxyNet] {
        &self.0
    }
}

/// Whether `addr` is one of `proxies`.
pub fn is_trusted(proxies: &[ProxyNet], addr: IpAddr) -> bool {
    let addr = addr.to_canonical();
    proxies.iter().any(|p| p.0.contains(&addr))
}

/// The client's address: the socket peer, unless the peer is a trusted proxy; then
/// the address that the nearest proxy not trusted (or the client itself) connected
/// from, read from `X-Forwarded-For` right to left (each proxy appends the address
/// it saw, so everything left of the first untrusted hop may be forged).
pub fn client_addr(proxies: &[ProxyNet], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let mut addr = peer.to_canonical();
    if !is_trusted(proxies, addr) {
        return addr;
    }
    let hops: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.iter().rev() {
        // A hop that is not an address ends the chain: what lies beyond it is not
        // vouched for by anyone trusted.
        let Some(ip) = parse_hop(hop.trim()) else {
            break;
        };
        addr = ip.to_canonical();
        if !is_trusted(proxies, addr) {
            break;
        }
    }
    addr
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
