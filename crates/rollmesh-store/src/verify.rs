//! `verify`: re-checks every stored signature, that the change log and histories point at stored changes,
//! that every projection, state hash and compacted document equals what the member's own signed changes
//! rebuild, and that the indexes and counters match the projections.

use std::collections::BTreeMap;

use automerge::Automerge;
use rollmesh_model::{Dossier, MemberId};
use rollmesh_proto::identity::hex;
use rollmesh_proto::SignedChange;

use crate::{
    decode_record, id_from, index, key, parse_log, read_u64, state_hash, Store, StoreError,
};

/// What `verify` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Signed changes whose signature was checked.
    pub changes: usize,
    /// Member documents rebuilt from their changes and compared.
    pub documents: usize,
    /// Cell ledgers rebuilt from their genesis and changes and compared.
    pub ledgers: usize,
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

/// The decoded changes of a document's history, taken out of `histories` (what `verify` accounts for).
pub(crate) fn take_changes(
    histories: &mut BTreeMap<MemberId, Vec<SignedChange>>,
    id: &MemberId,
) -> Vec<automerge::Change> {
    histories
        .remove(id)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| automerge::Change::from_bytes(e.change_bytes().to_vec()).ok())
        .collect()
}

impl Store {
    /// Checks the whole store. Never modifies it.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut r = VerifyReport::default();
        // The log holds every stored change; `C` must index exactly those, by hash.
        let mut good: std::collections::HashSet<[u8; 32]> = Default::default();
        for kv in self.kv.scan_prefix([b'L']) {
            let (k, v) = kv?;
            r.changes += 1;
            let at = hex(&k[1..]);
            let (hash, _, envelope) = match parse_log(&v) {
                Ok(e) => e,
                Err(e) => {
                    r.problems.push(format!("log entry {at}: {e}"));
                    continue;
                }
            };
            match SignedChange::decode(envelope.to_vec()) {
                Err(e) => r
                    .problems
                    .push(format!("log entry {at}: malformed envelope: {e}")),
                Ok(env) => match env.verify() {
                    Err(why) => r.problems.push(format!("log entry {at}: {why}")),
                    Ok(vc) if vc.hash() != *hash => r
                        .problems
                        .push(format!("log entry {at}: stored under the wrong hash")),
                    Ok(_) => {
                        if self.kv.get(key(b'C', &[hash]))?.as_deref() != Some(&k[1..]) {
                            r.problems
                                .push(format!("log entry {at}: not indexed by its hash"));
                        }
                        good.insert(*hash);
                    }
                },
            }
        }
        let indexed = self.kv.scan_prefix([b'C']).count();
        if indexed != r.changes {
            r.problems.push(format!(
                "change index has {indexed} entries for {} logged changes",
                r.changes
            ));
        }
        let mut histories: BTreeMap<MemberId, Vec<SignedChange>> = BTreeMap::new();
        for kv in self.kv.scan_prefix([b'H']) {
            let (k, hash) = kv?;
            let id = id_from(&k[1..17])?;
            let hash: [u8; 32] = hash
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("history entry".into()))?;
            match good.contains(&hash) {
                true => histories.entry(id).or_default().push(self.change(&hash)?),
                false => r
                    .problems
                    .push(format!("history of {id} names a missing change")),
            }
        }
        r.ledgers = self.verify_ledgers(&mut histories, &mut r.problems)?;
        let mut counters: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut index_entries = 0usize;
        for kv in self.kv.scan_prefix([b'P']) {
            let (k, stored) = kv?;
            let id = id_from(&k[1..])?;
            r.documents += 1;
            let mut rebuilt = Automerge::new();
            let changes = take_changes(&mut histories, &id);
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
            let (entries, counted) = index::entries(&rec, &id);
            for (k, v) in entries {
                index_entries += 1;
                if self.kv.get(&k)?.as_deref() != Some(&v[..]) {
                    r.problems
                        .push(format!("document {id}: an index entry is missing"));
                }
            }
            for k in counted {
                *counters.entry(k).or_default() += 1;
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
        for prefix in [b'F', b'G', b'J'] {
            for kv in self.kv.scan_prefix([prefix]) {
                let (k, v) = kv?;
                stored_counters.insert(k.to_vec(), read_u64(Some(v))?);
            }
        }
        if self.member_count() != r.documents {
            r.problems.push(format!(
                "the member counter says {} where {} projections are stored",
                self.member_count(),
                r.documents
            ));
        }
        if stored_counters != counters {
            r.problems.push(
                "name-word counts, headcounts or subtree totals differ from the projections"
                    .to_string(),
            );
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
