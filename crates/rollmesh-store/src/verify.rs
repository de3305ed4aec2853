//! `verify`: re-checks every stored signature, that the change log and histories point at stored changes,
//! that every projection, state hash and compacted document equals what the member's own signed changes
//! rebuild, and that the indexes and counters match the projections.

use std::collections::BTreeMap;

use automerge::Automerge;
use rollmesh_model::{Dossier, MemberId};
use rollmesh_proto::identity::hex;
use rollmesh_proto::SignedChange;

use crate::{decode_record, id_from, index, key, read_u64, state_hash, Store, StoreError};

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
        let mut counters: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut index_entries = 0usize;
        for kv in self.kv.scan_prefix([b'P']) {
            let (k, stored) = kv?;
            let id = id_from(&k[1..])?;
            r.documents += 1;
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
            if let Some(saved) = self.kv.get(key(b'D', &[id.as_bytes()]))? {
                match Automerge::load(&saved) {
                    Ok(d) if d.get_heads() == rebuilt.get_heads() => {}
                    Ok(_) => r.problems.push(format!(
                        "document {id}: saved state differs from its signed changes"
                    )),
                    Err(e) => r.problems.push(format!("document {id} does not load: {e}")),
                }
            }
            if stored.get(..32) != Some(&state_hash(&rebuilt.get_heads())[..]) {
                r.problems
                    .push(format!("document {id}: state hash is stale"));
            }
            let stored = decode_record(&stored).ok();
            let rec = match Dossier::record_of(id, &rebuilt) {
                Err(e) => {
                    r.problems.push(format!("document {id}: {e}"));
                    continue;
                }
                Ok(rec) if Some(&rec) != stored.as_ref() => {
                    r.problems
                        .push(format!("document {id}: projection is stale or missing"));
                    continue;
                }
                Ok(rec) => rec,
            };
            let mut tally = std::collections::HashMap::new();
            for (k, v) in index::expected_entries(&rec, &id, &mut tally) {
                index_entries += 1;
                if self.kv.get(&k)?.as_deref() != Some(&v[..]) {
                    r.problems
                        .push(format!("document {id}: an index entry is missing"));
                }
            }
            for (k, n) in tally {
                *counters.entry(k).or_default() += n;
            }
        }
        let stored_entries =
            self.kv.scan_prefix([b'U']).count() + self.kv.scan_prefix([b'N']).count();
        if stored_entries != index_entries {
            r.problems.push(format!(
                "indexes hold {stored_entries} entries where the projections imply {index_entries}"
            ));
        }
        let mut stored_counters = BTreeMap::new();
        for prefix in [b'F', b'G'] {
            for kv in self.kv.scan_prefix([prefix]) {
                let (k, v) = kv?;
                stored_counters.insert(k.to_vec(), read_u64(Some(v))?);
            }
        }
        if stored_counters != counters {
            r.problems
                .push("name-word counts or headcounts differ from the projections".to_string());
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
