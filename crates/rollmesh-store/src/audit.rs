//! The local audit log: who read or wrote which member data, when. Append-only (no API edits or deletes
//! an entry) and hash-chained, so an edit made behind the store's back shows up in [`Store::audit_check`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{key, now, Store, StoreError};

/// One audit entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEntry {
    /// Sequence number, from 1.
    pub seq: u64,
    /// Unix time.
    pub at: i64,
    /// The operating-system user who ran the command.
    pub user: String,
    /// The node id that served it.
    pub node: String,
    /// What was done (`member.show`, `member.add`, `bundle.import`, …).
    pub action: String,
    /// What it was done to (a member id, a query, a file).
    pub target: String,
    /// Extra detail (number of records returned or written).
    pub detail: String,
    /// Hash of the previous entry (zeros for the first).
    pub prev: [u8; 32],
    /// SHA-256 over `prev` and this entry's other fields.
    pub hash: [u8; 32],
}

impl AuditEntry {
    fn compute_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"rollmesh/audit/v1\0");
        h.update(self.prev);
        h.update(self.seq.to_be_bytes());
        h.update(self.at.to_be_bytes());
        for s in [
            &self.user,
            &self.node,
            &self.action,
            &self.target,
            &self.detail,
        ] {
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
        h.finalize().into()
    }
}

impl Store {
    /// Appends an entry and flushes it.
    pub fn audit_append(
        &self,
        user: &str,
        node: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<AuditEntry, StoreError> {
        let mut st = self.lock();
        let seq = st.next_audit;
        let prev = if seq > 1 {
            match self.kv.get(key(b'A', &[&(seq - 1).to_be_bytes()]))? {
                Some(b) => {
                    let e: AuditEntry = postcard::from_bytes(&b)
                        .map_err(|e| StoreError::Corrupt(format!("audit entry: {e}")))?;
                    e.hash
                }
                None => [0; 32],
            }
        } else {
            [0; 32]
        };
        let mut e = AuditEntry {
            seq,
            at: now(),
            user: user.to_string(),
            node: node.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            detail: detail.to_string(),
            prev,
            hash: [0; 32],
        };
        e.hash = e.compute_hash();
        let bytes = postcard::to_allocvec(&e).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.kv.insert(key(b'A', &[&seq.to_be_bytes()]), bytes)?;
        self.db.flush()?;
        st.next_audit = seq + 1;
        Ok(e)
    }

    /// Every audit entry, oldest first.
    pub fn audit_list(&self) -> Result<Vec<AuditEntry>, StoreError> {
        self.kv
            .scan_prefix([b'A'])
            .map(|kv| {
                let (_, v) = kv?;
                postcard::from_bytes(&v)
                    .map_err(|e| StoreError::Corrupt(format!("audit entry: {e}")))
            })
            .collect()
    }

    /// Checks the hash chain; returns the number of entries, or the first broken one.
    pub fn audit_check(&self) -> Result<Result<usize, u64>, StoreError> {
        let mut prev = [0u8; 32];
        let entries = self.audit_list()?;
        for (i, e) in entries.iter().enumerate() {
            if e.seq != i as u64 + 1 || e.prev != prev || e.compute_hash() != e.hash {
                return Ok(Err(e.seq));
            }
            prev = e.hash;
        }
        Ok(Ok(entries.len()))
    }
}
