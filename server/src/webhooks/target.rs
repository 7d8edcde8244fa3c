//! Where a webhook may send: the SSRF guard. A receiver must be a public address:
//! loopback, private (RFC 1918), carrier-grade NAT, link-local, unique-local,
//! unspecified, broadcast, multicast and documentation addresses are refused, and so
//! are IPv6 forms that embed one (IPv4-mapped, NAT64). A host name is resolved and
//! **every** address it resolves to is checked; the delivery then connects to the
//! address that was checked, so a name that resolves differently a moment later
//! (DNS rebinding) cannot reach an internal service. `--webhooks-allow-private` lifts
//! the address rule (tests, or receivers on the registry's own network).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// The longest a receiver's name may take to resolve.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A receiver URL, parsed, with the addresses it was checked at.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    /// The host name, when the URL names one (not an address).
    pub domain: Option<String>,
    pub addrs: Vec<SocketAddr>,
}

/// Parses a receiver URL: `http` or `https`, a host, no credentials.
pub fn parse(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "`{url}`: a webhook URL must be http:// or https://"
        ));
    }
    if parsed.host().is_none() {
        return Err(format!("`{url}`: a webhook URL needs a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "`{url}`: put no credentials in a webhook URL; deliveries are signed with its secret"
        ));
    }
    if url.len() > 2048 {
        return Err("a webhook URL may be at most 2048 bytes".into());
    }
    Ok(parsed)
}

/// Resolves the URL's host and checks every address (unless `allow_private`).
pub async fn resolve(url: &Url, allow_private: bool) -> Result<Target, String> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("`{url}` has no port"))?;
    let (domain, addrs) = match url.host() {
        Some(Host::Ipv4(ip)) => (None, vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Some(Host::Ipv6(ip)) => (None, vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Some(Host::Domain(name)) => {
            let lookup = tokio::net::lookup_host((name, port));
            let addrs: Vec<SocketAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
                .await
                .map_err(|_| {
                    format!("cannot resolve `{name}`: no answer within {RESOLVE_TIMEOUT:?}")
                })?
                .map_err(|e| format!("cannot resolve `{name}`: {e}"))?
                .collect();
            if addrs.is_empty() {
                return Err(format!("`{name}` resolves to no address"));
            }
            (Some(name.to_string()), addrs)
        }
        None => return Err(format!("`{url}`: a webhook URL needs a host")),
    };
    if !allow_private && let Some(bad) = addrs.iter().find(|a| is_internal(a.ip())) {
        let host = url.host_str().unwrap_or_default();
        return Err(format!(
            "`{host}` is (or resolves to) {}, a loopback, private, link-local or otherwise \
             internal address: webhooks deliver only to public addresses (an administrator \
             may allow others with --webhooks-allow-private)",
            bad.ip()
        ));
    }
    Ok(Target {
        url: url.clone(),
        domain,
        addrs,
    })
}

/// Whether an address is one a webhook must not reach.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_internal(v4),
        IpAddr::V6(v6) => v6_internal(v6),
    }
}

fn v4_internal(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn v6_internal(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_internal(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return v4_internal(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique-local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated) and ::/96
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_and_public_ones_allowed() {
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            assert!(is_internal(bad.parse().unwrap()), "{bad} should be refused");
        }
        for good in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(
                !is_internal(good.parse().unwrap()),
                "{good} should be allowed"
            );
        }
    }

    #[test]
    fn urls_need_http_a_host_and_no_credentials() {
        assert!(parse("https://example.com/hook").is_ok());
        assert!(parse("ftp://example.com/hook").is_err());
        assert!(parse("https://user:pw@example.com/hook").is_err());
        assert!(parse("not a url").is_err());
    }
}
