//! Limits on connections, before any request exists (docs/API.md, "Limits";
//! `listener::serve` applies them):
//!
//! - **caps**: at most `max_connections` open connections, and at most
//!   `max_connections_per_ip` from one client address (trusted proxies, which
//!   carry many clients, count only against the global cap). A connection over
//!   a cap is closed at once, unanswered: reading a request to answer it would
//!   spend what the cap protects.
//! - **the first bytes**: hyper-util's `auto` builder reads a connection's first
//!   bytes to tell HTTP/1 from HTTP/2 with no time limit, and HTTP/1's header
//!   read timeout only starts after that; a connection that sent nothing was
//!   never closed. [`VersionDeadline`] closes one that has not told its version
//!   within the idle timeout.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::client::proxies::{ProxyNet, is_trusted};
use crate::config::LimitsConfig;

/// The open connections, counted against the caps.
#[derive(Debug)]
pub struct ConnectionCaps {
    max: usize,
    per_ip: usize,
    trusted: Vec<ProxyNet>,
    /// Open connections in all, and per address (addresses under the per-IP cap only).
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
    /// When a refusal was last logged (ms), so that a flood logs a line now and then.
    last_warned: AtomicI64,
}

/// A connection's place under the caps, given back when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    caps: Arc<ConnectionCaps>,
    /// The address counted against the per-IP cap, if any.
    ip: Option<IpAddr>,
}

impl ConnectionCaps {
    pub fn new(limits: &LimitsConfig) -> Arc<Self> {
        Arc::new(Self {
            max: limits.max_connections,
            per_ip: limits.max_connections_per_ip,
            trusted: limits.trusted_proxies.0.clone(),
            open: Mutex::new((0, HashMap::new())),
            last_warned: AtomicI64::new(0),
        })
    }

    /// A slot for a new connection from `peer`, or `None` when a cap is reached.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<ConnectionSlot> {
        let peer = peer.to_canonical();
        let counted = (self.per_ip > 0 && !is_trusted(&self.trusted, peer)).then_some(peer);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let full = counted
            .and_then(|ip| open.1.get(&ip))
            .filter(|n| **n >= self.per_ip);
        let refusal = if self.max > 0 && open.0 >= self.max {
            Some(format!("{} open connections (max_connections)", open.0))
        } else {
            full.map(|n| format!("{n} open connections from {peer} (max_connections_per_ip)"))
        };
        if let Some(why) = refusal {
            drop(open);
            self.warn(&why);
            return None;
        }
        open.0 += 1;
        if let Some(ip) = counted {
            *open.1.entry(ip).or_insert(0) += 1;
        }
        Some(ConnectionSlot {
            caps: self.clone(),
            ip: counted,
        })
    }

    /// Logs a refusal, at most once every ten seconds.
    fn warn(&self, why: &str) {
        let now = granary_core::time::now_ms();
        let last = self.last_warned.load(Ordering::Relaxed);
        if now - last >= 10_000
            && self
                .last_warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                reason = why,
                "closing new connections over the connection caps"
            );
        } else {
            tracing::debug!(reason = why, "connection closed: over the caps");
        }
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.caps.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 -= 1;
        if let Some(ip) = self.ip
            && let Some(n) = open.1.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&ip);
            }
        }
    }
}

/// What an HTTP/2 client sends first; any other first byte means HTTP/1.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A connection that fails its reads once `idle` passed before its first bytes
/// told its HTTP version (a byte other than the HTTP/2 preface's, or the whole
/// preface); after that it is the stream itself, and HTTP/1's header read
/// timeout or HTTP/2's keep-alive take over.
pub struct VersionDeadline<S> {
    inner: S,
    /// Preface bytes matched so far and the deadline, until the version is told.
    pending: Option<(usize, Pin<Box<Sleep>>)>,
}

impl<S> VersionDeadline<S> {
    pub fn new(inner: S, idle: Option<Duration>) -> Self {
        Self {
            inner,
            pending: idle.map(|d| (0, Box::pin(tokio::time::sleep(d)))),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for VersionDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        let Some((matched, deadline)) = &mut this.pending else {
            return result;
        };
        match result {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                let end = (*matched + new.len()).min(H2_PREFACE.len());
                let told = new.is_empty() // end of stream
                    || new[..end - *matched] != H2_PREFACE[*matched..end]
                    || end == H2_PREFACE.len();
                if told {
                    this.pending = None;
                } else {
                    *matched = end;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the connection sent no request within the idle timeout (idle_timeout_secs)",
                ))),
                Poll::Pending => Poll::Pending,
            },
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for VersionDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn caps(max: usize, per_ip: usize, trusted: &[&str]) -> Arc<ConnectionCaps> {
        let limits = LimitsConfig {
            max_connections: max,
            max_connections_per_ip: per_ip,
            trusted_proxies: trusted.join(",").parse().unwrap(),
            ..LimitsConfig::default()
        };
        ConnectionCaps::new(&limits)
    }

    #[test]
    fn caps_count_per_address_and_in_all() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let c = caps(5, 2, &["10.0.0.0/8"]);
        let a1 = c.admit(a).unwrap();
        let _a2 = c.admit(a).unwrap();
        assert!(c.admit(a).is_none(), "a third from one address");
        let _b1 = c.admit(b).unwrap();
        // A trusted proxy is not held to the per-address cap, only to the global one.
        let _p1 = c.admit(proxy).unwrap();
        let _p2 = c.admit(proxy).unwrap();
        assert_eq!(c.open(), 5);
        assert!(c.admit(proxy).is_none(), "over the global cap");
        drop(a1);
        assert!(c.admit(a).is_some(), "a slot given back is free again");
        // 0: no cap.
        let c = caps(0, 0, &[]);
        let held: Vec<_> = (0..100).map(|_| c.admit(a).unwrap()).collect();
        assert_eq!(c.open(), held.len());
    }

    #[tokio::test]
    async fn a_connection_must_tell_its_version_in_time() {
        let idle = Some(Duration::from_millis(200));
        // Nothing sent: the read fails once the deadline passes.
        let (client, server) = tokio::io::duplex(64);
        let mut conn = VersionDeadline::new(server, idle);
        let err = conn.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        drop(client);
        // Part of the HTTP/2 preface, then nothing: still undecided, still cut.
        let (mut client, server) = tokio::io::duplex(64);
        let mut conn = VersionDeadline::new(server, idle);
        client.write_all(b"PRI * HT").await.unwrap();
        assert_eq!(conn.read(&mut [0u8; 8]).await.unwrap(), 8);
        assert!(conn.read(&mut [0u8; 8]).await.is_err());
        // An HTTP/1 request line: decided at its first byte; no deadline afterwards.
        let (mut client, server) = tokio::io::duplex(64);
        let mut conn = VersionDeadline::new(server, idle);
        client.write_all(b"G").await.unwrap();
        assert_eq!(conn.read(&mut [0u8; 8]).await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        client.write_all(b"ET").await.unwrap();
        assert_eq!(conn.read(&mut [0u8; 8]).await.unwrap(), 2);
        // The whole HTTP/2 preface: decided.
        let (mut client, server) = tokio::io::duplex(64);
        let mut conn = VersionDeadline::new(server, idle);
        client.write_all(H2_PREFACE).await.unwrap();
        let mut buf = [0u8; 24];
        conn.read_exact(&mut buf).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        client.write_all(b"x").await.unwrap();
        assert_eq!(conn.read(&mut [0u8; 8]).await.unwrap(), 1);
    }
}
