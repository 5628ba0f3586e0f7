//! Bounds on a preseed's input, checked before it is parsed: its size, and
//! how far its YAML expands. An alias (`*name`) repeats what an anchor
//! (`&name`) holds without repeating its text, so a few kilobytes of
//! aliases of aliases ("billion laughs") stand for gigabytes of values: a
//! 48 KB file took 180 MB to parse. A preseed needs no anchors; these
//! bounds let a few small ones through and refuse amplification, in time
//! proportional to the bound, before anything builds a value from the
//! file.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// The largest preseed muster reads, in bytes. A member takes a few lines
/// (a hundred bytes or two), so this holds a couple of hundred members;
/// the agent takes requests of at most 64 KiB, and a preseed travels to it
/// inside one (JSON escaping at most doubles it).
pub const MAX_BYTES: usize = 32 * 1024;

/// How much a preseed's YAML may stand for once its aliases are expanded:
/// a unit per value (scalar, list, map, key) plus a byte per byte of each
/// string. A file without aliases stays below its own size in bytes, so
/// below [`MAX_BYTES`]; twice that leaves room for a few small aliases.
pub const MAX_EXPANDED: usize = 2 * MAX_BYTES;

/// Why a preseed's input is refused before it is parsed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read the preseed file {}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "{} is {}, more than the {} KiB a preseed file may be: list fewer members, \
         or choose disks with filters instead of listing them",
        describe(path.as_deref()),
        size.map_or_else(|| "larger".to_owned(), |s| format!("{s} bytes")),
        MAX_BYTES / 1024
    )]
    TooLarge {
        /// None for text handed over without its file (the agent's).
        path: Option<PathBuf>,
        /// None when the file's size cannot be told (a pipe).
        size: Option<u64>,
    },
    #[error("{} is not UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf },
    #[error(
        "the YAML expands to more than {MAX_EXPANDED} bytes of values: anchors and aliases \
         (`&name`, `*name`) repeat what they refer to; a preseed needs none, write the values out"
    )]
    Expands,
}

fn describe(path: Option<&Path>) -> String {
    path.map_or_else(
        || "the preseed".to_owned(),
        |p| format!("the preseed file {}", p.display()),
    )
}

/// Reads a preseed file: at most one byte more than [`MAX_BYTES`], so a
/// file far larger (or endless, such as `/dev/zero`) is refused without
/// being read whole.
pub fn read(path: &Path) -> Result<String, InputError> {
    let failed = |source| InputError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(failed)?;
    let mut bytes = Vec::new();
    (&file)
        .take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if bytes.len() > MAX_BYTES {
        let size = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        return Err(InputError::TooLarge {
            path: Some(path.to_owned()),
            size,
        });
    }
    String::from_utf8(bytes).map_err(|_| InputError::NotUtf8 {
        path: path.to_owned(),
    })
}

/// Refuses text larger than [`MAX_BYTES`], or whose YAML expands beyond
/// [`MAX_EXPANDED`]. Text that is not valid YAML passes: the parser that
/// follows says what is wrong with it.
pub fn check(text: &str) -> Result<(), InputError> {
    if text.len() > MAX_BYTES {
        return Err(InputError::TooLarge {
            path: None,
            size: Some(text.len() as u64),
        });
    }
    if expanded_size(text, MAX_EXPANDED).is_none() {
        return Err(InputError::Expands);
    }
    Ok(())
}

/// What `text` stands for once its aliases are expanded (see
/// [`MAX_EXPANDED`]), or None beyond `limit`: the walk stops there, so it
/// costs at most `limit` steps whatever the file. Syntax errors count as
/// what was walked before them.
pub(crate) fn expanded_size(text: &str, limit: usize) -> Option<usize> {
    let budget = Budget {
        left: Cell::new(limit),
        exceeded: Cell::new(false),
    };
    // A syntax error (or serde_norway's own limits) ends the walk; only
    // running out of budget matters here.
    let _ = Measure(&budget).deserialize(serde_norway::Deserializer::from_str(text));
    (!budget.exceeded.get()).then(|| limit - budget.left.get())
}

struct Budget {
    left: Cell<usize>,
    exceeded: Cell<bool>,
}

/// Walks a document without keeping anything, spending its budget.
#[derive(Clone, Copy)]
struct Measure<'a>(&'a Budget);

impl Measure<'_> {
    fn spend<E: de::Error>(self, units: usize) -> Result<(), E> {
        let left = self.0.left.get();
        if units > left {
            self.0.exceeded.set(true);
            return Err(E::custom("expansion limit"));
        }
        self.0.left.set(left - units);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Measure<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Measure<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.spend(1 + s.len())
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<(), E> {
        self.spend(1 + b.len())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend(1)?;
        self.deserialize(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend(1)?;
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.spend(1)?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.spend(1)?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }

    /// A tagged value (`!tag value`).
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        self.spend(1)?;
        let ((), variant) = data.variant_seed(self)?;
        variant.newtype_variant_seed(self)
    }
}
