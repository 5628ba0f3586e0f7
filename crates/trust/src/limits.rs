//! Bounds on wrong passphrase guesses.
//!
//! Every failed confirmation is one online guess. Each address waits longer
//! after each of its failures and is locked out after a few; the session as
//! a whole ends after a bound that holds however many addresses an attacker
//! uses. With the defaults an attacker gets at most 20 guesses against a
//! 51.7-bit passphrase: a chance below 10^-14.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Delay after an address's first failure; doubled after each further one.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Failures after which an address is refused for the rest of the session.
    pub max_failures_per_address: u32,
    /// Failures, from all addresses, after which the session ends.
    pub max_failures_per_session: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_failures_per_address: 5,
            max_failures_per_session: 20,
        }
    }
}

impl Limits {
    /// The delay imposed after an address's `n`th failure (n ≥ 1).
    pub fn delay_after(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(31);
        self.base_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

/// Why an attempt is refused before it is even looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("too many wrong passphrases in this session: it has ended; start a new one")]
    SessionLocked,
    #[error("too many wrong passphrases from this address")]
    AddressLocked,
    #[error("wait {retry_after:?} before trying again")]
    TooSoon { retry_after: Duration },
}

/// What a failure costs, for the caller to apply: hold the failed answer for
/// `delay` (the limiter also refuses the address until then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Penalty {
    pub delay: Duration,
    pub address_locked: bool,
    pub session_locked: bool,
}

#[derive(Debug, Clone)]
struct AddressRecord {
    failures: u32,
    not_before: Instant,
}

/// Failure bookkeeping for one session. Pure: the caller passes the time.
/// Memory stays small: an address is only recorded once it fails, and
/// failures are bounded by the session limit.
#[derive(Debug, Clone)]
pub struct Limiter {
    limits: Limits,
    addresses: HashMap<IpAddr, AddressRecord>,
    session_failures: u32,
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            addresses: HashMap::new(),
            session_failures: 0,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether `addr` may make an attempt now.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Refusal> {
        if self.session_locked() {
            return Err(Refusal::SessionLocked);
        }
        let Some(rec) = self.addresses.get(&canonical(addr)) else {
            return Ok(());
        };
        if rec.failures >= self.limits.max_failures_per_address {
            return Err(Refusal::AddressLocked);
        }
        if now < rec.not_before {
            return Err(Refusal::TooSoon {
                retry_after: rec.not_before - now,
            });
        }
        Ok(())
    }

    pub fn record_failure(&mut self, addr: IpAddr, now: Instant) -> Penalty {
        self.session_failures = self.session_failures.saturating_add(1);
        let rec = self
            .addresses
            .entry(canonical(addr))
            .or_insert(AddressRecord {
                failures: 0,
                not_before: now,
            });
        rec.failures = rec.failures.saturating_add(1);
        let delay = self.limits.delay_after(rec.failures);
        rec.not_before = now + delay;
        Penalty {
            delay,
            address_locked: rec.failures >= self.limits.max_failures_per_address,
            session_locked: self.session_locked(),
        }
    }

    /// A success proves the address's operator knows the passphrase, so its
    /// earlier typos stop counting against it. The session count stays: it
    /// bounds guesses overall.
    pub fn record_success(&mut self, addr: IpAddr) {
        self.addresses.remove(&canonical(addr));
    }

    pub fn failures(&self, addr: IpAddr) -> u32 {
        self.addresses
            .get(&canonical(addr))
            .map_or(0, |r| r.failures)
    }

    pub fn session_failures(&self) -> u32 {
        self.session_failures
    }

    pub fn session_locked(&self) -> bool {
        self.session_failures >= self.limits.max_failures_per_session
    }
}

/// An IPv4 client reaching a dual-stack socket shows up as ::ffff:a.b.c.d;
/// it must count as the same address as a.b.c.d.
fn canonical(addr: IpAddr) -> IpAddr {
    addr.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn delay_doubles_and_is_capped() {
        let l = Limits::default();
        assert_eq!(l.delay_after(1), secs(1));
        assert_eq!(l.delay_after(2), secs(2));
        assert_eq!(l.delay_after(3), secs(4));
        assert_eq!(l.delay_after(5), secs(16));
        assert_eq!(l.delay_after(6), secs(30));
        assert_eq!(l.delay_after(u32::MAX), secs(30));
    }

    #[test]
    fn failure_imposes_a_wait_on_that_address_only() {
        let t0 = Instant::now();
        let mut lim = Limiter::new(Limits::default());
        assert_eq!(lim.check(A, t0), Ok(()));
        let p = lim.record_failure(A, t0);
        assert_eq!(p.delay, secs(1));
        assert!(!p.address_locked && !p.session_locked);
        assert_eq!(
            lim.check(A, t0 + Duration::from_millis(400)),
            Err(Refusal::TooSoon {
                retry_after: Duration::from_millis(600)
            })
        );
        assert_eq!(lim.check(B, t0), Ok(()));
        assert_eq!(lim.check(A, t0 + secs(1)), Ok(()));
        let p = lim.record_failure(A, t0 + secs(1));
        assert_eq!(p.delay, secs(2));
        assert!(lim.check(A, t0 + secs(2)).is_err());
        assert_eq!(lim.check(A, t0 + secs(3)), Ok(()));
    }

    #[test]
    fn address_locked_after_its_bound() {
        let mut t = Instant::now();
        let mut lim = Limiter::new(Limits::default());
        for i in 1..=5 {
            assert_eq!(lim.check(A, t), Ok(()), "attempt {i}");
            let p = lim.record_failure(A, t);
            assert_eq!(p.address_locked, i == 5);
            t += p.delay;
        }
        assert_eq!(lim.check(A, t + secs(3600)), Err(Refusal::AddressLocked));
        assert_eq!(lim.check(B, t), Ok(()));
        assert!(!lim.session_locked());
    }

    #[test]
    fn session_locked_after_its_bound_across_addresses() {
        let t = Instant::now();
        let mut lim = Limiter::new(Limits {
            max_failures_per_session: 20,
            ..Limits::default()
        });
        for i in 0..20u8 {
            let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 1, i));
            assert_eq!(lim.check(addr, t), Ok(()));
            let p = lim.record_failure(addr, t);
            assert_eq!(p.session_locked, i == 19);
        }
        let fresh = IpAddr::V4(Ipv4Addr::new(10, 0, 2, 1));
        assert_eq!(lim.check(fresh, t), Err(Refusal::SessionLocked));
        assert_eq!(lim.session_failures(), 20);
    }

    #[test]
    fn success_forgives_the_address_not_the_session() {
        let t = Instant::now();
        let mut lim = Limiter::new(Limits::default());
        lim.record_failure(A, t);
        lim.record_failure(A, t);
        lim.record_success(A);
        assert_eq!(lim.failures(A), 0);
        assert_eq!(lim.check(A, t), Ok(()));
        assert_eq!(lim.session_failures(), 2);
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4() {
        let t = Instant::now();
        let mut lim = Limiter::new(Limits::default());
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        lim.record_failure(mapped, t);
        assert_eq!(lim.failures(A), 1);
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(lim.failures(v6), 0);
    }

    #[test]
    fn configurable_bounds() {
        let t = Instant::now();
        let mut lim = Limiter::new(Limits {
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            max_failures_per_address: 2,
            max_failures_per_session: 3,
        });
        assert!(!lim.record_failure(A, t).address_locked);
        assert!(lim.record_failure(A, t).address_locked);
        assert_eq!(lim.check(A, t), Err(Refusal::AddressLocked));
        let p = lim.record_failure(B, t);
        assert_eq!(p.delay, Duration::ZERO);
        assert!(p.session_locked);
        assert_eq!(lim.check(B, t), Err(Refusal::SessionLocked));
    }
}
