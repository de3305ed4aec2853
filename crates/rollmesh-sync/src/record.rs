//! A record a batch carries: a signed change, a credential chain or a revocation, still encoded. The kinds
//! have the numbers of the bundle file's record tags, and travel as that one byte.

use serde::{Deserialize, Serialize};

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum RecordKind {
    /// A signed change envelope (tag 1).
    Change,
    /// A credential chain (tag 2).
    Chain,
    /// A revocation (tag 3).
    Revocation,
}

impl From<RecordKind> for u8 {
    fn from(k: RecordKind) -> u8 {
        match k {
            RecordKind::Change => 1,
            RecordKind::Chain => 2,
            RecordKind::Revocation => 3,
        }
    }
}

/// A tag byte that names no record kind.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown record tag {0}")]
pub struct UnknownTag(pub u8);

impl TryFrom<u8> for RecordKind {
    type Error = UnknownTag;
    fn try_from(t: u8) -> Result<Self, UnknownTag> {
        match t {
            1 => Ok(RecordKind::Change),
            2 => Ok(RecordKind::Chain),
            3 => Ok(RecordKind::Revocation),
            other => Err(UnknownTag(other)),
        }
    }
}

/// One record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Its kind.
    pub kind: RecordKind,
    /// Its encoded body.
    pub body: Vec<u8>,
}

impl Record {
    /// A change record.
    pub fn change(body: Vec<u8>) -> Record {
        Record {
            kind: RecordKind::Change,
            body,
        }
    }

    /// A chain record.
    pub fn chain(body: Vec<u8>) -> Record {
        Record {
            kind: RecordKind::Chain,
            body,
        }
    }

    /// A revocation record.
    pub fn revocation(body: Vec<u8>) -> Record {
        Record {
            kind: RecordKind::Revocation,
            body,
        }
    }

    /// True for a change.
    pub fn is_change(&self) -> bool {
        self.kind == RecordKind::Change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_travels_as_its_tag_byte_and_body() {
        // The wire form is the same as the `(u8, Vec<u8>)` tuple earlier versions sent.
        let r = Record::chain(vec![9, 8]);
        let bytes = postcard::to_allocvec(&r).expect("encode");
        assert_eq!(
            bytes,
            postcard::to_allocvec(&(2u8, vec![9u8, 8])).expect("encode")
        );
        assert_eq!(postcard::from_bytes::<Record>(&bytes).expect("decode"), r);
        assert!(postcard::from_bytes::<Record>(&[7, 0]).is_err());
    }
}
