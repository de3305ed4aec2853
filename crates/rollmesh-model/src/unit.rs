//! Unit paths: a unit's dotted path from the root (`hn.d03.w12.c007`). Prefix order on paths is what makes
//! "my subtree" a cheap range query, so the store indexes units by [`UnitPath::index_key`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A validated dotted unit path. Segments are lowercase ASCII letters, digits, `_` or `-`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UnitPath(String);

/// Why a string is not a unit path.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitPathError {
    /// The path was empty.
    #[error("unit path is empty")]
    Empty,
    /// A segment between dots was empty (`hn..d01`).
    #[error("unit path {0:?} has an empty segment")]
    EmptySegment(String),
    /// A segment held a character outside `[a-z0-9_-]`.
    #[error("unit path {0:?} may only use lowercase letters, digits, '_' and '-' between dots")]
    BadChar(String),
    /// Longer than the 255 bytes a path may take.
    #[error("unit path is longer than 255 bytes")]
    TooLong,
}

impl UnitPath {
    /// Parses and validates a path.
    pub fn parse(s: &str) -> Result<Self, UnitPathError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(UnitPathError::Empty);
        }
        if s.len() > 255 {
            return Err(UnitPathError::TooLong);
        }
        for seg in s.split('.') {
            if seg.is_empty() {
                return Err(UnitPathError::EmptySegment(s.to_string()));
            }
            if !seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                return Err(UnitPathError::BadChar(s.to_string()));
            }
        }
        Ok(UnitPath(s.to_string()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments from the root down.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// Depth from the root: the root unit has depth 0.
    pub fn depth(&self) -> usize {
        self.0.matches('.').count()
    }

    /// The parent unit, or `None` for a root.
    pub fn parent(&self) -> Option<UnitPath> {
        self.0.rfind('.').map(|i| UnitPath(self.0[..i].to_string()))
    }

    /// True when `other` is this unit or lies in its subtree.
    pub fn covers(&self, other: &UnitPath) -> bool {
        other.0 == self.0
            || (other.0.len() > self.0.len()
                && other.0.starts_with(&self.0)
                && other.0.as_bytes()[self.0.len()] == b'.')
    }

    /// A byte key whose prefix order is subtree order: every segment followed by a NUL byte. The key of a
    /// unit is a prefix of the key of every unit in its subtree, and of no other unit's key.
    pub fn index_key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.0.len() + 1);
        for seg in self.segments() {
            k.extend_from_slice(seg.as_bytes());
            k.push(0);
        }
        k
    }
}

impl fmt::Display for UnitPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for UnitPath {
    type Err = UnitPathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnitPath::parse(s)
    }
}

impl TryFrom<String> for UnitPath {
    type Error = UnitPathError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        UnitPath::parse(&s)
    }
}

impl From<UnitPath> for String {
    fn from(u: UnitPath) -> String {
        u.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> UnitPath {
        UnitPath::parse(s).expect("valid path")
    }

    #[test]
    fn covers_is_subtree_not_string_prefix() {
        assert!(p("hn.d1").covers(&p("hn.d1")));
        assert!(p("hn.d1").covers(&p("hn.d1.w2.c3")));
        assert!(!p("hn.d1").covers(&p("hn.d10")));
        assert!(!p("hn.d1.w2").covers(&p("hn.d1")));
    }

    #[test]
    fn index_key_prefix_matches_covers() {
        let a = p("hn.d1");
        for other in ["hn.d1", "hn.d1.w1", "hn.d10", "hn.d1x", "hn"] {
            let o = p(other);
            assert_eq!(
                o.index_key().starts_with(&a.index_key()),
                a.covers(&o),
                "{other}"
            );
        }
    }

    #[test]
    fn rejects_bad_paths() {
        assert_eq!(UnitPath::parse(""), Err(UnitPathError::Empty));
        assert!(matches!(
            UnitPath::parse("hn..d1"),
            Err(UnitPathError::EmptySegment(_))
        ));
        assert!(matches!(
            UnitPath::parse("HN.d1"),
            Err(UnitPathError::BadChar(_))
        ));
        assert_eq!(p("hn.d1.w2").parent(), Some(p("hn.d1")));
        assert_eq!(p("hn").parent(), None);
        assert_eq!(p("hn.d1.w2").depth(), 2);
    }
}
