//! Certificate fingerprints: SHA-256 of the certificate's DER, lowercase hex.
//!
//! The same form as `muster-identity`'s `Identity::fingerprint()`, so a
//! fingerprint read from an identity, a trust store or a handshake compares
//! equal as a plain string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A SHA-256 certificate fingerprint, always 64 lowercase hex characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    #[error(
        "a certificate fingerprint is 64 hex characters (SHA-256, colons allowed), got {0} hex characters"
    )]
    Length(usize),
    #[error("a certificate fingerprint has only hex digits and colons, found {0:?}")]
    Character(char),
}

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Fingerprint {
        Fingerprint(hex::encode(Sha256::digest(der)))
    }

    /// Accepts the forms people paste: upper or lower case, with or without
    /// colons between bytes.
    pub fn parse(s: &str) -> Result<Fingerprint, FingerprintError> {
        let mut out = String::with_capacity(64);
        for c in s.trim().chars() {
            match c {
                ':' => {}
                c if c.is_ascii_hexdigit() => out.push(c.to_ascii_lowercase()),
                c => return Err(FingerprintError::Character(c)),
            }
        }
        if out.len() != 64 {
            return Err(FingerprintError::Length(out.len()));
        }
        Ok(Fingerprint(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The short form shown next to a passphrase: the first 16 hex digits in
    /// groups of four joined by ':' (as `Identity::short_fingerprint`).
    pub fn short(&self) -> String {
        self.0.as_bytes()[..16]
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(":")
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fingerprint::parse(s)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Fingerprint::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_der_is_lowercase_sha256_hex() {
        // SHA-256 of the empty string, a well-known value.
        assert_eq!(
            Fingerprint::of_der(b"").as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_accepts_colons_and_upper_case() {
        let fp = Fingerprint::of_der(b"x");
        let shouted = fp
            .as_str()
            .to_ascii_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(Fingerprint::parse(&shouted).unwrap(), fp);
    }

    #[test]
    fn parse_refuses_bad_input() {
        assert_eq!(Fingerprint::parse("abc"), Err(FingerprintError::Length(3)));
        assert!(matches!(
            Fingerprint::parse(&"g".repeat(64)),
            Err(FingerprintError::Character('g'))
        ));
        assert!(Fingerprint::parse(&"a".repeat(66)).is_err());
    }

    #[test]
    fn short_is_four_groups_of_four() {
        let fp = Fingerprint::of_der(b"");
        assert_eq!(fp.short(), "e3b0:c442:98fc:1c14");
    }

    #[test]
    fn serde_round_trip_validates() {
        let fp = Fingerprint::of_der(b"y");
        let json = serde_json::to_string(&fp).unwrap();
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), fp);
        assert!(serde_json::from_str::<Fingerprint>("\"nothex\"").is_err());
    }
}
