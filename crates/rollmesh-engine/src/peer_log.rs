//! The scope filter: the view of our change log, documents and credentials that one authenticated peer
//! may see. Only changes about members inside the peer's scope leave this node, with the chains of their
//! authors and every revocation we hold; a member moving into the peer's scope brings its whole history.
//! A cell's ledger is logged under its cell, so it travels exactly where that cell's members do; the
//! organisation-wide documents (tree, rule set, calendar) go to every peer.
//! Reconciliation offers and serves only documents inside the scope too.

use std::collections::HashSet;

use rollmesh_model::{MemberId, UnitPath};
use rollmesh_proto::{NodePublicKey, Revocation, SignedChange};
use rollmesh_store::StoreError;
use rollmesh_sync::{DocId, Log, LogBatch, LogError, Record, StateHash};

use crate::node::Node;

/// How many log entries may be examined (and skipped as out of scope) per entry sent.
const EXAMINE_FACTOR: usize = 64;

/// One peer's view of our log.
pub struct PeerLog<'a> {
    node: &'a Node,
    scope: UnitPath,
    peer: NodePublicKey,
    sent_chains: HashSet<NodePublicKey>,
    sent_revs: HashSet<Vec<u8>>,
}

fn log_err(e: StoreError) -> LogError {
    LogError(e.to_string())
}

impl<'a> PeerLog<'a> {
    /// The view for `peer`, whose credential covers `scope`.
    pub fn new(node: &'a Node, peer: NodePublicKey, scope: UnitPath) -> Self {
        PeerLog {
            node,
            scope,
            peer,
            sent_chains: HashSet::new(),
            sent_revs: HashSet::new(),
        }
    }

    /// The peer's scope.
    pub fn scope(&self) -> &UnitPath {
        &self.scope
    }

    fn push_change(&mut self, records: &mut Vec<Record>, c: SignedChange) -> Result<(), LogError> {
        let author = c.author();
        if self.sent_chains.insert(author) {
            if let Some(chain) = self.node.store().chain(&author).map_err(log_err)? {
                records.push(Record::chain(chain));
            }
        }
        records.push(Record::change(c.as_bytes().to_vec()));
        Ok(())
    }

    /// Whether we hold this document (a member, a cell's ledger) inside the peer's scope now.
    fn inside(&self, id: &MemberId) -> Result<bool, LogError> {
        let store = self.node.store();
        if store.is_org_doc(id).map_err(log_err)? {
            return Ok(true);
        }
        Ok(store
            .doc_units(id)
            .map_err(log_err)?
            .iter()
            .any(|u| self.scope.covers(u)))
    }

    /// Every revocation we hold, each after its issuer's chain, when the batch carries changes or the
    /// revocations changed since the last batch.
    fn revocation_records(&mut self, with_changes: bool) -> Result<Vec<Record>, LogError> {
        let store = self.node.store();
        let revs = store.revocations().map_err(log_err)?;
        let changed = revs.iter().any(|r| !self.sent_revs.contains(r));
        let mut records = Vec::new();
        if revs.is_empty() || !(changed || with_changes) {
            return Ok(records);
        }
        for r in revs {
            // A revocation that does not decode was refused on arrival; it is forwarded as held.
            if let Ok(rev) = Revocation::decode(&r) {
                if self.sent_chains.insert(rev.issuer) {
                    if let Some(c) = store.chain(&rev.issuer).map_err(log_err)? {
                        records.push(Record::chain(c));
                    }
                }
            }
            self.sent_revs.insert(r.clone());
            records.push(Record::revocation(r));
        }
        Ok(records)
    }
}

impl Log for PeerLog<'_> {
    fn index(&self) -> u64 {
        self.node.store().index_id()
    }

    fn rotate_index(&mut self) -> Result<u64, LogError> {
        let index = self.node.store().rotate_index().map_err(log_err)?;
        tracing::warn!(
            peer = %self.peer.node_id(),
            "a peer has seen more of our change log than we hold (restored store?): new log index"
        );
        Ok(index)
    }

    fn head(&self) -> u64 {
        self.node.store().last_seq()
    }

    fn read(&mut self, from: u64, max: usize) -> Result<LogBatch, LogError> {
        // Every batch is self-contained: it carries the chains of the authors of its changes and, when it
        // carries changes or the revocations changed, every revocation with its issuer's chain. A batch the
        // peer drops (a duplicate, a gap) is re-read later, so nothing may be marked "already sent".
        self.sent_chains.clear();
        let store = self.node.store();
        // Entries examined but not sent (out of scope, made by the peer) still advance its checkpoint;
        // out-of-scope entries are skipped without decoding, so far more may be examined than sent.
        let (entries, upto) = store
            .log_since_in(
                from,
                max,
                max.saturating_mul(EXAMINE_FACTOR),
                Some(&self.scope),
            )
            .map_err(log_err)?;
        let mut changes = Vec::new();
        for e in entries {
            if e.change.author() == self.peer {
                continue; // it made the change, it has it
            }
            let covered: Vec<bool> = e.units.iter().map(|u| self.scope.covers(u)).collect();
            if !e.everywhere && !covered.iter().any(|c| *c) {
                continue;
            }
            // A member moving into the peer's scope from outside: the peer has never seen its history.
            // Only the history up to this move: what came after it is served by its own entries, and
            // if the member has left the scope again since, those later changes are none of the
            // peer's business.
            if covered.len() == 2 && !covered[0] && covered[1] {
                for (seq, h) in store.history(&e.change.doc()).map_err(log_err)? {
                    if seq < e.seq {
                        self.push_change(&mut changes, h)?;
                    }
                }
            }
            self.push_change(&mut changes, e.change)?;
        }
        let mut records = self.revocation_records(!changes.is_empty())?;
        records.extend(changes);
        Ok(LogBatch { records, upto })
    }

    fn states(&mut self) -> Result<Vec<(StateHash, DocId)>, LogError> {
        let all = self.node.store().states().map_err(log_err)?;
        Ok(all
            .into_iter()
            .filter(|(_, units, _)| {
                units
                    .as_ref()
                    .is_none_or(|us| us.iter().any(|u| self.scope.covers(u)))
            })
            .map(|(id, _, hash)| (hash, id.0))
            .collect())
    }

    fn departures(&mut self, docs: &[DocId], upto: u64) -> Result<Vec<Record>, LogError> {
        self.sent_chains.clear();
        let store = self.node.store();
        // Only documents no longer inside the scope: the others came with the wanted histories.
        let mut gone = HashSet::new();
        for doc in docs {
            let id = MemberId(*doc);
            if !self.inside(&id)? {
                gone.insert(id);
            }
        }
        let mut records = Vec::new();
        if gone.is_empty() {
            return Ok(records);
        }
        // The log entries about them that the peer could see (ending with the one that took each out of
        // its scope): what an ordinary pull from the start would have sent it about them. The read skips
        // entries outside the scope without decoding them; the loop ends at `upto`, at most one pass.
        let (page, examine) = (4096, 4096 * EXAMINE_FACTOR);
        let mut from = 0;
        while from < upto {
            let (entries, last) = store
                .log_since_in(from, page, examine, Some(&self.scope))
                .map_err(log_err)?;
            for e in entries {
                if e.seq <= upto && gone.contains(&e.change.doc()) {
                    self.push_change(&mut records, e.change)?;
                }
            }
            if last <= from {
                break;
            }
            from = last;
        }
        Ok(records)
    }

    fn histories(&mut self, docs: &[DocId]) -> Result<Vec<Record>, LogError> {
        self.sent_chains.clear();
        let store = self.node.store();
        let mut records = Vec::new();
        for doc in docs {
            let id = MemberId(*doc);
            // Checked again here, whoever asks: a document outside the scope is never served.
            if !self.inside(&id)? {
                continue;
            }
            for (_, c) in store.history(&id).map_err(log_err)? {
                self.push_change(&mut records, c)?;
            }
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests;
