//! Errors that say where: the key path in the file, the member, and the
//! line when the YAML parser knows it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreseedError {
    /// Where in the file, e.g. `members[2].disks.local`; empty for the file
    /// as a whole.
    pub key: String,
    /// The member concerned: its name, or its address when it has no name.
    pub member: Option<String>,
    /// 1-based, when the parser gave it.
    pub line: Option<usize>,
    pub message: String,
}

impl PreseedError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> PreseedError {
        PreseedError {
            key: key.into(),
            member: None,
            line: None,
            message: message.into(),
        }
    }

    pub(crate) fn member(mut self, member: Option<String>) -> PreseedError {
        self.member = member;
        self
    }
}

impl fmt::Display for PreseedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.key.is_empty() {
            f.write_str(&self.key)?;
            if let Some(member) = &self.member {
                write!(f, " ({member})")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PreseedError {}

/// All that is wrong with a file, in file order where that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreseedErrors(pub Vec<PreseedError>);

impl PreseedErrors {
    pub fn messages(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for PreseedErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages().join("\n"))
    }
}

impl std::error::Error for PreseedErrors {}

/// Collects errors, then either fails with all of them or passes.
#[derive(Debug, Default)]
pub(crate) struct Errors(pub Vec<PreseedError>);

impl Errors {
    pub fn add(
        &mut self,
        key: impl Into<String>,
        member: Option<&str>,
        message: impl Into<String>,
    ) {
        self.0
            .push(PreseedError::new(key, message).member(member.map(str::to_owned)));
    }

    pub fn finish<T>(self, value: T) -> Result<T, PreseedErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(PreseedErrors(self.0))
        }
    }
}
