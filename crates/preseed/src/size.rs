//! Disk sizes as people write them: `4GiB`, `500 GB`, `1.5T`, `1073741824`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A size in bytes, written in the file with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&muster_disks::human_size(self.0))
    }
}

/// Units are case-insensitive. `KB`, `MB`... are powers of 1000 (as disk
/// makers count); `KiB`, `MiB`... and the bare letters `K`, `M`, `G`, `T`,
/// `P` are powers of 1024 (as `lsblk` prints them). No unit: bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || {
        format!("{text:?} is not a size: write a number and a unit, such as 500GB, 4GiB or 1.5T")
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let scale: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000u128.pow(2),
        "gb" => 1000u128.pow(3),
        "tb" => 1000u128.pow(4),
        "pb" => 1000u128.pow(5),
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "p" | "pib" => 1 << 50,
        _ => return Err(bad()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || whole.len() > 20 || fraction.len() > 9 || fraction.contains('.') {
        return Err(bad());
    }
    let whole: u128 = whole.parse().map_err(|_| bad())?;
    let frac_value: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| bad())?
    };
    let frac_bytes = frac_value * scale / 10u128.pow(fraction.len() as u32);
    let bytes = whole * scale + frac_bytes;
    u64::try_from(bytes).map_err(|_| format!("{text:?} is too large a size"))
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as 500GB, 4GiB or 1.5T")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_size(v).map(ByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let gib = 1u64 << 30;
        for (text, bytes) in [
            ("4GiB", 4 * gib),
            ("4 GiB", 4 * gib),
            ("4gib", 4 * gib),
            ("4G", 4 * gib),
            ("500GB", 500_000_000_000),
            ("1.5T", 3 << 39),
            ("0.5KiB", 512),
            ("1073741824", gib),
            ("12B", 12),
            ("2 PiB", 2 << 50),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn not_sizes() {
        for text in ["", "GiB", "4 gigs", "-4GiB", "1.2.3G", "4 Gi B", ".5G"] {
            assert!(parse_size(text).is_err(), "{text}");
        }
        assert_eq!(
            parse_size("99999999999P"),
            Err("\"99999999999P\" is too large a size".into())
        );
    }
}
