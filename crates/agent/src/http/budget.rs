//! How many connections the agent holds, and for how long.
//!
//! Anyone on the LAN may connect over HTTPS (pairing needs it), so the
//! connections that have not presented a pinned certificate, the
//! uncertified, are bounded: per source, in all, and in time. When the
//! bound in all is reached, the oldest gives way: a member's connection is
//! uncertified only for its TLS handshake, a few milliseconds, so an attack
//! from many addresses must outpace that to keep a member out. A member's
//! connection leaves those books once its handshake shows the certificate
//! ([`Slot::certify`]); every connection counts against the total, which
//! keeps file descriptors for the unix socket, whose own budget is a plain
//! count.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{oneshot, OwnedSemaphorePermit};
use tokio::time::Sleep;

use muster_trust::Source;

/// The bounds on HTTPS connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Uncertified connections from one source (an IPv4 address, an IPv6
    /// /64: one host easily holds a whole /64); more are closed at once.
    pub per_source: usize,
    /// Uncertified connections in all; the oldest is closed for a new one.
    pub uncertified: usize,
    /// Every connection; more are closed at once.
    pub total: usize,
    /// How long an uncertified connection may stay open, whatever it does:
    /// a pairing takes seconds (45 s at worst, a failed Finish held 30 s).
    pub uncertified_lifetime: Duration,
}

pub(crate) const LIMITS: Limits = Limits {
    per_source: 16,
    uncertified: 256,
    total: 512,
    uncertified_lifetime: Duration::from_secs(60),
};

/// At most one warning a minute while connections are turned away.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    #[error("too many connections without a pinned certificate from its address")]
    Source,
    #[error("too many connections")]
    Full,
}

/// The books of one listener's connections; clones share them.
#[derive(Clone)]
pub(crate) struct Budget {
    limits: Limits,
    books: Arc<Mutex<Books>>,
}

#[derive(Default)]
struct Books {
    open: usize,
    per_source: HashMap<Source, usize>,
    /// Uncertified connections by age (tickets only grow), each with the
    /// means to close it.
    uncertified: BTreeMap<u64, (Source, oneshot::Sender<()>)>,
    next_ticket: u64,
    turned_away: TurnedAway,
}

/// Refusals and evictions since the last warning.
#[derive(Default)]
struct TurnedAway {
    refused: u64,
    evicted: u64,
    reported: Option<Instant>,
}

impl TurnedAway {
    fn report(&mut self, limits: &Limits) {
        let now = Instant::now();
        if self.reported.is_some_and(|at| now - at < REPORT_EVERY) {
            return;
        }
        tracing::warn!(
            refused = self.refused,
            evicted = self.evicted,
            per_source = limits.per_source,
            uncertified = limits.uncertified,
            total = limits.total,
            "turning HTTPS connections away: connections without a pinned certificate are \
             bounded (refused: closed at once; evicted: the oldest closed for a newer one)"
        );
        *self = TurnedAway {
            reported: Some(now),
            ..TurnedAway::default()
        };
    }
}

impl Books {
    fn forget_uncertified(&mut self, ticket: u64) {
        if let Some((source, _)) = self.uncertified.remove(&ticket) {
            self.forget_source(source);
        }
    }

    fn forget_source(&mut self, source: Source) {
        if let Some(count) = self.per_source.get_mut(&source) {
            *count -= 1;
            if *count == 0 {
                self.per_source.remove(&source);
            }
        }
    }
}

impl Budget {
    pub(crate) fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            books: Arc::default(),
        }
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a new connection from `ip`, uncertified until
    /// [`Slot::certify`].
    pub(crate) fn admit(&self, ip: IpAddr) -> Result<Slot, Refused> {
        let source = Source::of(ip);
        let limits = self.limits;
        let mut books = self.books();
        let refused = if books.open >= limits.total {
            Some(Refused::Full)
        } else if books.per_source.get(&source).copied().unwrap_or(0) >= limits.per_source {
            Some(Refused::Source)
        } else {
            None
        };
        if let Some(refused) = refused {
            tracing::debug!(%ip, %refused, "closed a new connection");
            books.turned_away.refused += 1;
            books.turned_away.report(&limits);
            return Err(refused);
        }
        if books.uncertified.len() >= limits.uncertified {
            if let Some((_, (oldest, close))) = books.uncertified.pop_first() {
                books.forget_source(oldest);
                let _ = close.send(());
                books.turned_away.evicted += 1;
                books.turned_away.report(&limits);
            }
        }
        let ticket = books.next_ticket;
        books.next_ticket += 1;
        let (close, closed) = oneshot::channel();
        books.uncertified.insert(ticket, (source, close));
        *books.per_source.entry(source).or_default() += 1;
        books.open += 1;
        Ok(Slot {
            budget: self.clone(),
            uncertified: Some(Uncertified {
                ticket,
                closed,
                deadline: Box::pin(tokio::time::sleep(limits.uncertified_lifetime)),
            }),
        })
    }
}

/// A connection's place in a [`Budget`]; dropping it frees the place.
pub(crate) struct Slot {
    budget: Budget,
    uncertified: Option<Uncertified>,
}

struct Uncertified {
    ticket: u64,
    /// Fires when the connection is evicted.
    closed: oneshot::Receiver<()>,
    deadline: Pin<Box<Sleep>>,
}

impl Slot {
    /// The connection presented a pinned certificate: it no longer counts
    /// as uncertified, and stays until it ends by itself.
    pub(crate) fn certify(&mut self) {
        if let Some(u) = self.uncertified.take() {
            self.budget.books().forget_uncertified(u.ticket);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut books = self.budget.books();
        if let Some(u) = &self.uncertified {
            books.forget_uncertified(u.ticket);
        }
        books.open -= 1;
    }
}

/// What keeps a connection's place and may end it.
pub(crate) trait Hold {
    /// Why the connection must end now, if it must; otherwise registers
    /// `cx` to be woken when it must.
    fn poll_ended(&mut self, _cx: &mut Context<'_>) -> Option<io::Error> {
        None
    }
}

impl Hold for Slot {
    fn poll_ended(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let u = self.uncertified.as_mut()?;
        if let Poll::Ready(Ok(())) = Pin::new(&mut u.closed).poll(cx) {
            return Some(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed for a newer connection without a pinned certificate",
            ));
        }
        if u.deadline.as_mut().poll(cx).is_ready() {
            return Some(io::Error::new(
                io::ErrorKind::TimedOut,
                "open too long without a pinned certificate",
            ));
        }
        None
    }
}

/// The unix socket's budget is a count of permits.
impl Hold for OwnedSemaphorePermit {}

/// A connection with its place: every read and write first checks that
/// the place still holds, so an idle connection is closed as soon as it
/// must be.
pub(crate) struct Held<S, H> {
    inner: S,
    hold: H,
}

impl<S, H> Held<S, H> {
    pub(crate) fn new(inner: S, hold: H) -> Held<S, H> {
        Held { inner, hold }
    }

    pub(crate) fn hold_mut(&mut self) -> &mut H {
        &mut self.hold
    }
}

impl<S: AsyncRead + Unpin, H: Hold + Unpin> AsyncRead for Held<S, H> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.hold.poll_ended(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin, H: Hold + Unpin> AsyncWrite for Held<S, H> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.hold.poll_ended(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.hold.poll_ended(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        per_source: 2,
        uncertified: 3,
        total: 4,
        uncertified_lifetime: Duration::from_secs(60),
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn evicted(slot: &mut Slot) -> bool {
        let waker = std::task::Waker::noop();
        slot.poll_ended(&mut Context::from_waker(waker))
            .is_some_and(|e| e.kind() == io::ErrorKind::ConnectionAborted)
    }

    #[tokio::test]
    async fn one_source_gets_its_share_and_its_places_back() {
        let budget = Budget::new(Limits {
            uncertified: 10,
            total: 10,
            ..SMALL
        });
        let a = budget.admit(ip("10.0.0.1")).unwrap();
        let _b = budget.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(budget.admit(ip("10.0.0.1")).err(), Some(Refused::Source));
        // An IPv4 address on a dual-stack socket is the same source.
        assert_eq!(
            budget.admit(ip("::ffff:10.0.0.1")).err(),
            Some(Refused::Source)
        );
        // One IPv6 /64 is one source.
        let _c = budget.admit(ip("fd00::1")).unwrap();
        let _d = budget.admit(ip("fd00::2")).unwrap();
        assert_eq!(budget.admit(ip("fd00::3")).err(), Some(Refused::Source));
        drop(a);
        budget.admit(ip("10.0.0.1")).unwrap();
    }

    #[tokio::test]
    async fn the_oldest_uncertified_gives_way_and_a_member_stays() {
        let budget = Budget::new(Limits { total: 5, ..SMALL });
        let mut member = budget.admit(ip("10.0.0.9")).unwrap();
        member.certify();
        let mut oldest = budget.admit(ip("10.0.0.1")).unwrap();
        let mut second = budget.admit(ip("10.0.0.1")).unwrap();
        let third = budget.admit(ip("10.0.0.3")).unwrap();
        assert!(!evicted(&mut oldest));
        // Three uncertified is the bound: a fourth closes the oldest.
        let mut newest = budget.admit(ip("10.0.0.4")).unwrap();
        assert!(evicted(&mut oldest));
        assert!(!evicted(&mut second));
        assert!(!evicted(&mut newest));
        assert!(!evicted(&mut member));
        // An evicted connection keeps its place in the total until it
        // closes.
        assert_eq!(budget.admit(ip("10.0.0.5")).err(), Some(Refused::Full));
        drop(third);
        // Its address got its share back at once.
        budget.admit(ip("10.0.0.1")).unwrap();
    }

    #[tokio::test]
    async fn an_uncertified_connection_ends_at_its_lifetime_and_a_certified_one_does_not() {
        let lifetime = Duration::from_millis(50);
        let budget = Budget::new(Limits {
            uncertified_lifetime: lifetime,
            ..SMALL
        });
        let mut anonymous = budget.admit(ip("10.0.0.1")).unwrap();
        let mut member = budget.admit(ip("10.0.0.2")).unwrap();
        member.certify();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(anonymous.poll_ended(&mut cx).is_none());
        tokio::time::sleep(lifetime * 2).await;
        let ended = anonymous.poll_ended(&mut cx).expect("ended");
        assert_eq!(ended.kind(), io::ErrorKind::TimedOut);
        assert!(member.poll_ended(&mut cx).is_none());
    }
}
