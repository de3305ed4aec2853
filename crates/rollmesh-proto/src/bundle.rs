//! Bundles: files of signed records for the sneakernet path (a USB stick from a cell to its ward) and the
//! first way two nodes merge. A bundle is a magic, a version, then records `tag:u8 | len:u32 | body`, and a
//! trailer record that counts the records and hashes everything before it, so a truncated copy is noticed.
//! Each record stands on its own: a damaged record is reported and the rest are still read.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

use crate::envelope::SignedChange;

/// The first eight bytes of every bundle.
pub const BUNDLE_MAGIC: &[u8; 8] = b"RMBUNDLE";
/// The bundle version this code writes and reads.
pub const BUNDLE_VERSION: u8 = 1;
/// Record tag of a signed change envelope.
pub const TAG_CHANGE: u8 = 0x01;
/// Record tag of a credential chain (of an author whose changes follow).
pub const TAG_CHAIN: u8 = 0x02;
/// Record tag of a revocation (written before any change).
pub const TAG_REVOCATION: u8 = 0x03;
/// Record tag of the trailer.
pub const TAG_TRAILER: u8 = 0xFF;
/// Largest record body accepted.
pub const MAX_RECORD: usize = 32 << 20;

/// Why a file is not a readable bundle at all.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The magic bytes are wrong.
    #[error("not a rollmesh bundle (bad magic)")]
    Magic,
    /// An unknown version.
    #[error("unsupported bundle version {0}")]
    Version(u8),
    /// Writing failed.
    #[error("writing bundle: {0}")]
    Io(#[from] io::Error),
}

/// Writes a bundle to any writer.
pub struct BundleWriter<W: Write> {
    out: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> BundleWriter<W> {
    /// Starts a bundle.
    pub fn new(mut out: W) -> Result<Self, BundleError> {
        let mut hasher = Sha256::new();
        let mut head = BUNDLE_MAGIC.to_vec();
        head.push(BUNDLE_VERSION);
        out.write_all(&head)?;
        hasher.update(&head);
        Ok(BundleWriter {
            out,
            hasher,
            count: 0,
        })
    }

    /// Appends one record.
    pub fn push(&mut self, tag: u8, body: &[u8]) -> Result<(), BundleError> {
        let mut head = [0u8; 5];
        head[0] = tag;
        head[1..].copy_from_slice(&(body.len() as u32).to_be_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(body)?;
        self.hasher.update(head);
        self.hasher.update(body);
        self.count += 1;
        Ok(())
    }

    /// Appends a signed change, verbatim.
    pub fn push_change(&mut self, c: &SignedChange) -> Result<(), BundleError> {
        self.push(TAG_CHANGE, c.as_bytes())
    }

    /// Number of records written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Writes the trailer and returns the writer.
    pub fn finish(mut self) -> Result<W, BundleError> {
        let digest = self.hasher.finalize();
        let mut body = self.count.to_be_bytes().to_vec();
        body.extend_from_slice(&digest);
        let mut head = [0u8; 5];
        head[0] = TAG_TRAILER;
        head[1..].copy_from_slice(&(body.len() as u32).to_be_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(&body)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One record read from a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRecord {
    /// The record tag.
    pub tag: u8,
    /// The record body.
    pub body: Vec<u8>,
}

/// A parsed bundle: its records and whether the trailer confirmed that nothing is missing or altered
/// outside the (individually signed) records.
#[derive(Debug, Clone)]
pub struct BundleReader {
    /// Records in file order (the trailer excluded).
    pub records: Vec<BundleRecord>,
    /// True when the trailer is present and matches the count and hash.
    pub complete: bool,
}

impl BundleReader {
    /// Parses bundle bytes. Only a bad magic or version is fatal; a truncated tail yields the records before
    /// it with `complete = false`.
    pub fn parse(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() < 9 || &bytes[..8] != BUNDLE_MAGIC {
            return Err(BundleError::Magic);
        }
        if bytes[8] != BUNDLE_VERSION {
            return Err(BundleError::Version(bytes[8]));
        }
        let mut records = Vec::new();
        let mut pos = 9;
        let mut complete = false;
        while pos + 5 <= bytes.len() {
            let tag = bytes[pos];
            let len = u32::from_be_bytes([
                bytes[pos + 1],
                bytes[pos + 2],
                bytes[pos + 3],
                bytes[pos + 4],
            ]) as usize;
            let start = pos + 5;
            if len > MAX_RECORD || start + len > bytes.len() {
                break;
            }
            let body = &bytes[start..start + len];
            if tag == TAG_TRAILER {
                if body.len() == 40 {
                    let mut count = [0u8; 8];
                    count.copy_from_slice(&body[..8]);
                    let digest = Sha256::digest(&bytes[..pos]);
                    complete = u64::from_be_bytes(count) == records.len() as u64
                        && digest.as_slice() == &body[8..]
                        && start + len == bytes.len();
                }
                break;
            }
            records.push(BundleRecord {
                tag,
                body: body.to_vec(),
            });
            pos = start + len;
        }
        Ok(BundleReader { records, complete })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut w = BundleWriter::new(Vec::new()).expect("new");
        w.push(TAG_CHANGE, b"one").expect("push");
        w.push(TAG_CHANGE, b"two").expect("push");
        let bytes = w.finish().expect("finish");
        let r = BundleReader::parse(&bytes).expect("parse");
        assert!(r.complete);
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.records[1].body, b"two");
        // Cut inside the trailer: both records still read, bundle marked incomplete.
        let cut = BundleReader::parse(&bytes[..bytes.len() - 3]).expect("parse");
        assert!(!cut.complete);
        assert_eq!(cut.records.len(), 2);
        // Flip a byte inside a record body: the trailer hash no longer matches.
        let mut flipped = bytes.clone();
        flipped[9 + 5] ^= 1;
        assert!(!BundleReader::parse(&flipped).expect("parse").complete);
        assert!(matches!(
            BundleReader::parse(b"NOTABUNDLE"),
            Err(BundleError::Magic)
        ));
    }
}
