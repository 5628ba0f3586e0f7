//! Session passphrases: generated from the wordlist, or supplied, and always
//! compared in one normalized form so that `Apple  Tree` and `apple-tree` are
//! the same passphrase.

use std::fmt;

use rand_core::{CryptoRng, OsRng, RngCore};
use zeroize::Zeroizing;

use crate::wordlist::WORDS;

/// Words in a generated passphrase unless asked otherwise; also the minimum.
/// 5 words from 1296 give 5 × log2(1296) ≈ 51.7 bits.
pub const DEFAULT_WORDS: usize = 5;
pub const MIN_WORDS: usize = 5;
/// The entropy floor every session passphrase must reach: a generated one
/// has 51.7 bits, a supplied one is estimated.
pub const MIN_BITS: f64 = 48.0;
/// A supplied passphrase that is not made of list words must also be at
/// least this long (normalized), whatever its estimate.
pub const MIN_SUPPLIED_CHARS: usize = 20;

/// Bits of entropy one word drawn uniformly from the list gives.
pub fn bits_per_word() -> f64 {
    (WORDS.len() as f64).log2()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassphraseError {
    #[error("the passphrase is empty")]
    Empty,
    #[error("a generated passphrase needs at least {MIN_WORDS} words (48 bits of entropy); {0} were asked for")]
    TooFewWords(usize),
    #[error(
        "this passphrase is too weak to protect a session (about {bits} bits of entropy, \
         {MIN_BITS} needed): use at least {MIN_WORDS} different words from muster's list (or let \
         muster generate one), or at least {MIN_SUPPLIED_CHARS} characters that are hard to guess"
    )]
    /// `bits`: the estimate, rounded down.
    TooWeak { bits: u32 },
    #[error(
        "the word {0:?} comes more than once: a repeated word adds nothing an attacker has to \
         guess; use {MIN_WORDS} different words (or let muster generate them)"
    )]
    RepeatedWord(String),
}

/// A passphrase in normalized form: lowercase words joined by single dashes.
/// Kept out of `Debug` output and wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// A new random passphrase of `words` words drawn from the system RNG.
    pub fn generate(words: usize) -> Result<Passphrase, PassphraseError> {
        Passphrase::generate_with(&mut OsRng, words)
    }

    pub fn generate_with<R: RngCore + CryptoRng>(
        rng: &mut R,
        words: usize,
    ) -> Result<Passphrase, PassphraseError> {
        if words < MIN_WORDS {
            return Err(PassphraseError::TooFewWords(words));
        }
        let mut out = Zeroizing::new(String::new());
        for i in 0..words {
            if i > 0 {
                out.push('-');
            }
            out.push_str(WORDS[uniform_index(rng, WORDS.len())]);
        }
        Ok(Passphrase(out))
    }

    /// What a joiner typed (or a config file holds), normalized. Only an
    /// empty input is refused here: a typo must still go through the
    /// handshake, where it fails like any wrong guess.
    pub fn parse(input: &str) -> Result<Passphrase, PassphraseError> {
        let normalized = Zeroizing::new(normalize(input));
        if normalized.is_empty() {
            return Err(PassphraseError::Empty);
        }
        Ok(Passphrase(normalized))
    }

    /// A passphrase supplied to open a session (or held for enrollment):
    /// refused unless its estimated entropy reaches [`MIN_BITS`]. Words
    /// from the list count as drawn from it, each once; anything else is
    /// estimated the way password crackers guess (dictionaries, repeats,
    /// sequences, keyboard patterns: zxcvbn) and must also be at least
    /// [`MIN_SUPPLIED_CHARS`] long.
    pub fn for_session(input: &str) -> Result<Passphrase, PassphraseError> {
        let p = Passphrase::parse(input)?;
        let bits = match p.list_words() {
            Some(words) => {
                let mut seen = std::collections::BTreeSet::new();
                if let Some(again) = words.iter().find(|w| !seen.insert(**w)) {
                    return Err(PassphraseError::RepeatedWord((*again).to_owned()));
                }
                words.len() as f64 * bits_per_word()
            }
            None if p.0.chars().count() < MIN_SUPPLIED_CHARS => 0.0,
            None => supplied_bits(&p.0),
        };
        if bits >= MIN_BITS {
            Ok(p)
        } else {
            Err(PassphraseError::TooWeak {
                bits: bits.floor() as u32,
            })
        }
    }

    /// The normalized text: what to show the operator and what the handshake uses.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.0.split('-')
    }

    /// Entropy if every word comes from the list (as if drawn uniformly,
    /// which holds for generated passphrases); `None` for anything else.
    pub fn estimated_bits(&self) -> Option<f64> {
        self.list_words()
            .map(|words| words.len() as f64 * bits_per_word())
    }

    /// The words, if every one is on the list.
    fn list_words(&self) -> Option<Vec<&str>> {
        self.words()
            .map(|w| WORDS.binary_search(&w).ok().map(|_| w))
            .collect()
    }
}

/// zxcvbn's estimate of the guesses an attacker needs, in bits.
fn supplied_bits(normalized: &str) -> f64 {
    zxcvbn::zxcvbn(normalized, &[]).guesses_log10() * std::f64::consts::LOG2_10
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// Trim, lowercase, and turn every run of spaces and dashes (including the
/// typographic dashes phones and word processors substitute) into one `-`.
pub fn normalize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_separator = false;
    for c in input.chars() {
        if is_separator(c) {
            pending_separator = true;
            continue;
        }
        if pending_separator && !out.is_empty() {
            out.push('-');
        }
        pending_separator = false;
        out.extend(c.to_lowercase());
    }
    out
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '_' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// An index in `0..n` with no modulo bias: 16-bit draws at or above the
/// largest multiple of `n` are thrown away.
fn uniform_index<R: RngCore>(rng: &mut R, n: usize) -> usize {
    debug_assert!(n > 0 && n <= 1 << 16);
    let limit = (1usize << 16) / n * n;
    loop {
        let mut b = [0u8; 2];
        rng.fill_bytes(&mut b);
        let v = u16::from_le_bytes(b) as usize;
        if v < limit {
            return v % n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn wordlist_has_1296_distinct_short_lowercase_words() {
        assert_eq!(WORDS.len(), 1296);
        let set: HashSet<_> = WORDS.iter().collect();
        assert_eq!(set.len(), WORDS.len(), "duplicate words");
        for w in WORDS {
            assert!(
                (3..=6).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_lowercase()),
                "{w:?}"
            );
        }
        // Sorted (binary search relies on it) and prefix-free (so no two
        // different word sequences can read the same once joined).
        for pair in WORDS.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?} out of order");
            assert!(!pair[1].starts_with(pair[0]), "{pair:?}");
        }
    }

    #[test]
    fn minimum_generated_passphrase_has_at_least_48_bits() {
        let bits = MIN_WORDS as f64 * bits_per_word();
        assert!(bits >= MIN_BITS, "{bits}");
        assert!((bits - 51.7).abs() < 0.05, "{bits}");
        let p = Passphrase::generate(MIN_WORDS).unwrap();
        assert_eq!(p.words().count(), MIN_WORDS);
        assert!(p.estimated_bits().unwrap() >= MIN_BITS);
    }

    #[test]
    fn too_few_words_refused() {
        assert_eq!(
            Passphrase::generate(4),
            Err(PassphraseError::TooFewWords(4))
        );
    }

    #[test]
    fn generated_words_come_from_the_list_and_vary() {
        let a = Passphrase::generate(8).unwrap();
        assert!(a.words().all(|w| WORDS.contains(&w)));
        let b = Passphrase::generate(8).unwrap();
        // 82 bits each: a collision means the RNG is broken.
        assert_ne!(a, b);
    }

    #[test]
    fn generated_passphrase_survives_normalization() {
        let p = Passphrase::generate(6).unwrap();
        let shouted = p.as_str().replace('-', "  ").to_uppercase();
        assert_eq!(Passphrase::parse(&shouted).unwrap(), p);
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize("Apple  Tree"), "apple-tree");
        assert_eq!(normalize("apple-tree"), "apple-tree");
        assert_eq!(normalize("  apple -- tree\t"), "apple-tree");
        assert_eq!(normalize("-apple_tree-"), "apple-tree");
        assert_eq!(normalize("APPLE\u{2013}TREE"), "apple-tree");
        assert_eq!(normalize("apple\n tree \u{a0}cat"), "apple-tree-cat");
        assert_eq!(normalize(" - "), "");
        assert_eq!(
            Passphrase::parse("Apple  Tree").unwrap(),
            Passphrase::parse("apple-tree").unwrap()
        );
        assert_eq!(Passphrase::parse("  "), Err(PassphraseError::Empty));
    }

    #[test]
    fn supplied_passphrases_need_strength() {
        for weak in [
            "apple tree",
            "hunter2hunter2",
            "aaaaaaaaaaaaaaaaaaaa",
            "abcdefghijklmnopqrstuvwxyz",
            "password password password",
            "qwertyuiopasdfghjklzxcvbnm",
        ] {
            assert!(
                matches!(
                    Passphrase::for_session(weak),
                    Err(PassphraseError::TooWeak { bits }) if f64::from(bits) < MIN_BITS
                ),
                "{weak:?} accepted"
            );
        }
        assert_eq!(
            Passphrase::for_session("able able able able able"),
            Err(PassphraseError::RepeatedWord("able".into()))
        );
        for strong in [
            "apple bread cloud dance eagle",
            "correct horse battery staple muster",
            "formation enrollment passphrase for the lab",
            "Tr0ub4dor&3 is not this one, 9-fjq",
        ] {
            assert!(
                Passphrase::for_session(strong).is_ok(),
                "{strong:?} refused"
            );
        }
        // Typed input is never judged: a wrong guess must reach the handshake.
        assert!(Passphrase::parse("x").is_ok());
    }

    #[test]
    fn estimated_bits_only_for_list_words() {
        assert!(Passphrase::parse("apple zebra")
            .unwrap()
            .estimated_bits()
            .is_some());
        assert!(Passphrase::parse("apple zzz")
            .unwrap()
            .estimated_bits()
            .is_none());
    }

    #[test]
    fn debug_does_not_reveal() {
        let p = Passphrase::parse("apple tree").unwrap();
        assert!(!format!("{p:?}").contains("apple"));
    }

    /// Feeds fixed 16-bit values, to check the rejection sampler.
    struct Fixed(Vec<u16>);
    impl RngCore for Fixed {
        fn next_u32(&mut self) -> u32 {
            unimplemented!()
        }
        fn next_u64(&mut self) -> u64 {
            unimplemented!()
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.copy_from_slice(&self.0.remove(0).to_le_bytes());
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    #[test]
    fn sampler_rejects_the_biased_tail() {
        // 65535 / 1296 * 1296 = 64800: values from there on would favour low indexes.
        let mut rng = Fixed(vec![65535, 64800, 64799]);
        assert_eq!(uniform_index(&mut rng, 1296), 64799 % 1296);
        let mut rng = Fixed(vec![1297]);
        assert_eq!(uniform_index(&mut rng, 1296), 1);
    }
}
