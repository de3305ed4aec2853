//! `verify`: re-checks every stored signature, that the change log and histories point at stored changes,
//! and that every compacted document and projection equals what its own signed changes rebuild.

use std::collections::BTreeMap;

use automerge::Automerge;
use rollmesh_model::{Dossier, MemberId};
use rollmesh_proto::identity::hex;
use rollmesh_proto::SignedChange;

use crate::{decode_record, id_from, key, Store, StoreError};

/// What `verify` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Signed changes whose signature was checked.
    pub changes: usize,
    /// Documents rebuilt from their changes and compared.
    pub documents: usize,
    /// Changes waiting for dependencies (not a fault).
    pub pending: usize,
    /// Quarantined changes (not a fault of the store).
    pub quarantined: usize,
    /// Every inconsistency found, one line each. Empty means a clean store.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Checks the whole store. Never modifies it.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut r = VerifyReport::default();
        for kv in self.kv.scan_prefix([b'C']) {
            let (k, v) = kv?;
            r.changes += 1;
            let hash = hex(&k[1..]);
            match SignedChange::decode(v.to_vec()) {
                Err(e) => r
                    .problems
                    .push(format!("change {hash}: malformed envelope: {e}")),
                Ok(env) => match env.verify() {
                    Err(why) => r.problems.push(format!("change {hash}: {why}")),
                    Ok(vc) if vc.hash()[..] != k[1..] => r
                        .problems
                        .push(format!("change {hash}: stored under the wrong hash")),
                    Ok(_) => {}
                },
            }
        }
        let mut log_entries = 0usize;
        for kv in self.kv.scan_prefix([b'L']) {
            let (k, v) = kv?;
            let hash = &v[..v.len().min(32)];
            if self.kv.contains_key(key(b'E', &[hash]))? {
                continue; // removed with a member that moved out of scope
            }
            log_entries += 1;
            if !self.kv.contains_key(key(b'C', &[hash]))? {
                r.problems
                    .push(format!("log entry {} names a missing change", hex(&k[1..])));
            }
        }
        if log_entries != r.changes {
            r.problems.push(format!(
                "change log has {log_entries} entries for {} stored changes",
                r.changes
            ));
        }
        let mut histories: BTreeMap<MemberId, Vec<SignedChange>> = BTreeMap::new();
        for kv in self.kv.scan_prefix([b'H']) {
            let (k, hash) = kv?;
            let id = id_from(&k[1..17])?;
            match self.kv.get(key(b'C', &[&hash]))? {
                // A malformed envelope was reported above.
                Some(b) => {
                    if let Ok(env) = SignedChange::decode(b.to_vec()) {
                        histories.entry(id).or_default().push(env);
                    }
                }
                None => r
                    .problems
                    .push(format!("history of {id} names a missing change")),
            }
        }
        for kv in self.kv.scan_prefix([b'D']) {
            let (k, saved) = kv?;
            let id = id_from(&k[1..])?;
            r.documents += 1;
            let saved = match Automerge::load(&saved) {
                Ok(d) => d,
                Err(e) => {
                    r.problems.push(format!("document {id} does not load: {e}"));
                    continue;
                }
            };
            let mut rebuilt = Automerge::new();
            let changes: Vec<_> = histories
                .remove(&id)
                .unwrap_or_default()
                .iter()
                .filter_map(|e| automerge::Change::from_bytes(e.change_bytes().to_vec()).ok())
                .collect();
            if let Err(e) = rebuilt.apply_changes(changes) {
                r.problems
                    .push(format!("document {id}: its changes do not apply: {e}"));
                continue;
            }
            if rebuilt.get_heads() != saved.get_heads() {
                r.problems.push(format!(
                    "document {id}: saved state differs from its signed changes"
                ));
                continue;
            }
            let expected = Dossier::record_of(id, &rebuilt);
            let stored = match self.kv.get(key(b'P', &[id.as_bytes()]))? {
                Some(b) => decode_record(&b).ok(),
                None => None,
            };
            match expected {
                Err(e) => r.problems.push(format!("document {id}: {e}")),
                Ok(rec) if Some(&rec) != stored.as_ref() => r
                    .problems
                    .push(format!("document {id}: projection is stale or missing")),
                Ok(_) => {}
            }
        }
        for id in histories.keys() {
            r.problems
                .push(format!("document {id} has changes but no stored state"));
        }
        r.pending = self.pending_count();
        r.quarantined = self.kv.scan_prefix([b'Q']).count();
        Ok(r)
    }
}
