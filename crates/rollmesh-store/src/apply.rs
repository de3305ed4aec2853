//! Applying verified changes: one atomic, flushed sled batch per call. Changes whose dependencies have not
//! arrived wait under `W` and are retried whenever their document advances; changes that would leave an
//! invalid dossier are quarantined inside the same batch.
//!
//! A call has two halves, which a sync connection overlaps (it prepares the next batch while the previous
//! one is being committed). [`Store::prepare`] drops repeats, groups the changes by document, reserves
//! those documents, and does the expensive part — loading each document, applying its changes, checking
//! the policy, projecting and encoding — for every document in parallel: a change only ever depends on
//! changes of its own document, so documents are independent. [`Store::commit`] (serial, under the write
//! lock) numbers the outcomes in input order and writes them, with the indexes and counters, in one batch.

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::{Automerge, ReadDoc};
use rayon::prelude::*;
use rollmesh_model::{Dossier, DossierWrite, MemberId, MemberRecord, UnitPath};
use rollmesh_proto::{DocKind, RejectCode, Rejection, SignedChange, VerifiedChange};

use crate::index::{self, Counters};
use crate::ledger::{Planned, Writing};
use crate::{key, log_entry, now, QuarantineEntry, Store, StoreError, QSEQ_KEY, SEQ_KEY};

/// A document with more changes than this is kept compacted (`D`); smaller ones are rebuilt from their
/// signed changes when needed, which costs less than storing every document twice.
pub const COMPACT_AT: usize = 8;

/// A node's decision on one change, given the document before and after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it.
    Accept,
    /// Quarantine it with this reason.
    Reject(Rejection),
    /// Not this node's business (outside its scope): neither store nor quarantine it.
    Skip,
}

/// The node's authority and scope rules, consulted for every change before it is applied. Documents are
/// processed in parallel, so a policy is shared between threads.
pub trait Policy: Sync {
    /// Decides on `change`; `before` is the member's projection before it (`None` for a new member) and
    /// `after` the projection it would produce.
    fn check(
        &self,
        change: &VerifiedChange,
        before: Option<&MemberRecord>,
        after: &MemberRecord,
    ) -> Verdict;

    /// Whether this node keeps a member in this final state (inside its scope). A member that ends a call
    /// outside it is removed from the store, its changes of this call kept only to be forwarded.
    fn keep(&self, _final: &MemberRecord) -> bool {
        true
    }

    /// Whether [`Policy::check_own`] is to be called (it costs a decoding of every change).
    fn wants_own(&self) -> bool {
        false
    }

    /// Decides on what a member change does **as its own history sees it**: `before` is the dossier at
    /// the change's dependencies (`None` for a creation), `after` that plus the change, and `written`
    /// what its operations write (the events it creates, the fields it sets). Called after
    /// [`Policy::check`] accepted it, when [`Policy::wants_own`]. Unlike the receiver's current state,
    /// this is the same at every node, so a verdict on what the change itself wrote (the case steps it
    /// adds, the status it sets) never depends on what else a node holds.
    fn check_own(
        &self,
        _change: &VerifiedChange,
        _before: Option<&MemberRecord>,
        _after: &MemberRecord,
        _written: &DossierWrite,
    ) -> Verdict {
        Verdict::Accept
    }

    /// Decides on a change to a document that belongs to one unit as a whole (a cell's ledger).
    fn check_unit(&self, _change: &VerifiedChange, _unit: &UnitPath) -> Verdict {
        Verdict::Accept
    }

    /// Whether this node keeps the documents of `unit` (inside its scope).
    fn keep_unit(&self, _unit: &UnitPath) -> bool {
        true
    }

    /// Decides on a change to an organisation-wide document (the tree, the rule set, the calendar),
    /// which every node keeps.
    fn check_org(&self, _change: &VerifiedChange) -> Verdict {
        Verdict::Accept
    }
}

/// Accepts every verified change (for tests and for the node's own fresh changes).
pub struct AcceptAll;

impl Policy for AcceptAll {
    fn check(&self, _: &VerifiedChange, _: Option<&MemberRecord>, _: &MemberRecord) -> Verdict {
        Verdict::Accept
    }
}

/// What an [`Store::apply`] call did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Changes newly applied, with the log sequence number each got.
    pub applied: Vec<(u64, [u8; 32])>,
    /// Changes already stored (or repeated in the input): nothing to do.
    pub duplicates: usize,
    /// Changes stored to wait for dependencies that have not arrived.
    pub pending: usize,
    /// Changes refused and quarantined (invalid documents, or refused by the policy).
    pub rejected: Vec<Rejection>,
    /// Changes outside this node's scope, dropped without being stored.
    pub skipped: usize,
    /// Members removed because they now lie outside this node's scope (transferred away).
    pub evicted: Vec<MemberId>,
    /// Documents whose state changed.
    pub touched: Vec<MemberId>,
}

/// The state hash of a document: SHA-256 over its sorted heads. Equal hashes mean equal states.
pub fn state_hash(heads: &[automerge::ChangeHash]) -> [u8; 32] {
    use sha2::Digest;
    let mut hs: Vec<[u8; 32]> = heads.iter().map(|h| h.0).collect();
    hs.sort();
    let mut d = sha2::Sha256::new();
    for h in hs {
        d.update(h);
    }
    d.finalize().into()
}

pub(crate) fn quarantine_into(
    batch: &mut sled::Batch,
    qseq: &mut u64,
    bytes: Vec<u8>,
    why: &Rejection,
    source: &str,
) -> Result<(), StoreError> {
    let parsed = SignedChange::decode(bytes.clone()).ok();
    let entry = QuarantineEntry {
        seq: *qseq,
        at: now(),
        code: why.code.key().to_string(),
        detail: why.detail.clone(),
        source: source.to_string(),
        author: parsed.as_ref().map(|p| p.author().node_id().to_string()),
        doc: parsed.as_ref().map(|p| p.doc()),
        bytes,
    };
    let v = postcard::to_allocvec(&entry).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    batch.insert(key(b'Q', &[&qseq.to_be_bytes()]), v);
    *qseq += 1;
    Ok(())
}

/// Changes prepared by [`Store::prepare`], to be written by [`Store::commit`].
pub struct Prepared {
    work: Vec<DocWork>,
    ledgers: Vec<Planned>,
    duplicates: usize,
    _reservation: Reservation,
}

/// Documents of prepared batches that are not committed yet.
#[derive(Default)]
pub(crate) struct InFlight {
    docs: std::sync::Mutex<HashSet<MemberId>>,
    freed: std::sync::Condvar,
}

impl InFlight {
    /// Reserves `ids`, first waiting until none of them is reserved by an uncommitted batch.
    fn reserve(self: &std::sync::Arc<Self>, ids: Vec<MemberId>) -> Reservation {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        while ids.iter().any(|id| docs.contains(id)) {
            docs = self.freed.wait(docs).unwrap_or_else(|p| p.into_inner());
        }
        docs.extend(ids.iter().copied());
        Reservation {
            in_flight: self.clone(),
            ids,
        }
    }
}

/// Releases its documents when dropped (committed, or abandoned).
struct Reservation {
    in_flight: std::sync::Arc<InFlight>,
    ids: Vec<MemberId>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut docs = self
            .in_flight
            .docs
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for id in &self.ids {
            docs.remove(id);
        }
        self.in_flight.freed.notify_all();
    }
}

/// What became of one change of a document, in the order it happened.
enum Outcome {
    /// Applied; `units` are the member's units before and after (for the log).
    Applied {
        vc: VerifiedChange,
        units: String,
        /// It had been stored to wait (`W`), which must now go.
        waited: bool,
    },
    /// Stored to wait for its dependencies.
    Waiting(VerifiedChange),
    Rejected(VerifiedChange, Rejection),
    Skipped,
}

/// One document's share of an apply call.
struct DocWork {
    id: MemberId,
    /// The changes of the call for this document, in input order.
    input: Vec<VerifiedChange>,
    /// The cached document, taken out of the LRU (put back only once the batch is durable).
    cached: Option<(Automerge, usize)>,
    /// The document its author already built from the first change (a new member created here).
    prebuilt: Option<Automerge>,
    // Filled in by `load` and `run`.
    before: Option<MemberRecord>,
    current: Option<MemberRecord>,
    doc: Automerge,
    /// Changes the document holds (its history length).
    n_changes: usize,
    outcomes: Vec<Outcome>,
    /// Changes of the call already stored.
    duplicates: usize,
    /// This document's changes stored earlier to wait for dependencies.
    disk_waiting: Vec<VerifiedChange>,
    pending_delta: i64,
    /// Encoded projection, compacted document (when large) and state hash, once changed.
    written: Option<Written>,
    keep: bool,
    /// Whether this node held the member before the call (for an eviction).
    was_held: bool,
}

struct Written {
    projection: Vec<u8>,
    saved: Option<Vec<u8>>,
}

impl DocWork {
    fn changed(&self) -> bool {
        self.outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Applied { .. }))
    }

    /// Reads everything this document's work needs from the store (the document, its projection, its
    /// waiting changes), first and quickly: sled blocks reads while another batch is being written, and
    /// [`DocWork::run`] then works without touching the store.
    fn load(&mut self, store: &Store) -> Result<(), StoreError> {
        // Changes stored before (echoes, repeats) need nothing, not even the document. A change this
        // node has just made, with its built document, cannot be stored already.
        if self.prebuilt.is_none() {
            let before = self.input.len();
            let mut kept = Vec::with_capacity(before);
            for vc in std::mem::take(&mut self.input) {
                if !store.has_change(&vc.hash())? {
                    kept.push(vc);
                }
            }
            self.duplicates = before - kept.len();
            self.input = kept;
            if self.input.is_empty() {
                return Ok(());
            }
            // Changes stored earlier to wait for their dependencies, which this call may release.
            for kv in store.kv.scan_prefix(key(b'W', &[self.id.as_bytes()])) {
                let (_, v) = kv?;
                let env = SignedChange::decode(v.to_vec())
                    .map_err(|e| StoreError::Corrupt(format!("waiting change: {e}")))?;
                // It was verified before it was stored; re-verify anyway, it is cheap next to a fault.
                // Only dossier changes: another kind waiting under this id is not this path's to apply.
                if env.kind() != DocKind::Member {
                    continue;
                }
                if let Ok(w) = env.verify() {
                    if !store.has_change(&w.hash())? {
                        self.disk_waiting.push(w);
                    }
                }
            }
        }
        // A member this node has just created under a fresh id has nothing stored yet.
        if self.prebuilt.is_none() {
            self.before = store.record(&self.id)?;
        }
        self.current = self.before.clone();
        let (doc, n) = match self.cached.take() {
            Some(c) => c,
            None if self.prebuilt.is_some() => (Automerge::new(), 0),
            None => store.load_doc(&self.id)?,
        };
        self.doc = doc;
        self.n_changes = n;
        Ok(())
    }

    /// Applies this call's changes to the loaded document (no store access).
    fn run(&mut self, policy: &dyn Policy) -> Result<(), StoreError> {
        if self.input.is_empty() {
            return Ok(());
        }
        let id = self.id;
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        let mut waiting: Vec<VerifiedChange> = Vec::new();
        let mut waited: HashSet<[u8; 32]> = HashSet::new();
        let mut retried_from_disk = false;
        let mut queue: VecDeque<VerifiedChange> = std::mem::take(&mut self.input).into();
        while let Some(vc) = queue.pop_front() {
            let hash = vc.hash();
            if !seen.insert(hash) {
                continue;
            }
            let missing = vc
                .change
                .deps()
                .iter()
                .any(|d| self.doc.get_change_by_hash(d).is_none());
            if missing {
                self.pending_delta += 1;
                waited.insert(hash);
                waiting.push(vc.clone());
                self.outcomes.push(Outcome::Waiting(vc));
                continue;
            }
            // A new document built by this node from exactly this change needs no re-applying.
            let built = self
                .prebuilt
                .take()
                .filter(|d| self.n_changes == 0 && d.get_heads() == [vc.change.hash()]);
            let next = match built {
                Some(d) => d,
                None => {
                    let mut next = self.doc.clone();
                    if let Err(e) = crate::ledger::apply_guarded(&mut next, vc.change.clone()) {
                        let why = Rejection::new(RejectCode::BadChange, e);
                        self.outcomes.push(Outcome::Rejected(vc, why));
                        continue;
                    }
                    next
                }
            };
            let after = match Dossier::record_of(id, &next) {
                Ok(r) => r,
                Err(e) => {
                    let why = Rejection::new(RejectCode::InvalidDocument, e.to_string());
                    self.outcomes.push(Outcome::Rejected(vc, why));
                    continue;
                }
            };
            let mut verdict = policy.check(&vc, self.current.as_ref(), &after);
            // Then the change judged on its own history: the document at its dependencies. When they
            // are the current heads (a linear history, the usual case) that is what we already hold.
            if matches!(verdict, Verdict::Accept) && policy.wants_own() {
                verdict =
                    match crate::own::own_view(id, &self.doc, self.current.as_ref(), &after, &vc) {
                        Ok(own) => {
                            let (own_before, own_after) = match &own.records {
                                Some((b, a)) => (b.as_ref(), a),
                                None => (self.current.as_ref(), &after),
                            };
                            policy.check_own(&vc, own_before, own_after, &own.written)
                        }
                        Err(why) => Verdict::Reject(why),
                    };
            }
            match verdict {
                Verdict::Accept => {}
                Verdict::Skip => {
                    self.outcomes.push(Outcome::Skipped);
                    continue;
                }
                Verdict::Reject(why) => {
                    self.outcomes.push(Outcome::Rejected(vc, why));
                    continue;
                }
            }
            let before_unit = self.current.as_ref().and_then(MemberRecord::unit);
            let after_unit = after.unit();
            let mut units: Vec<String> = Vec::new();
            if let Some(b) = &before_unit {
                if Some(b) != after_unit.as_ref() {
                    units.push(b.to_string());
                }
            }
            if let Some(a) = &after_unit {
                units.push(a.to_string());
            }
            self.doc = next;
            self.n_changes += 1;
            self.current = Some(after);
            self.outcomes.push(Outcome::Applied {
                vc,
                units: units.join("\n"),
                waited: waited.contains(&hash),
            });

            // The document advanced: release waiting changes whose dependencies are now all present.
            let mut candidates = std::mem::take(&mut waiting);
            if !retried_from_disk {
                retried_from_disk = true;
                for w in std::mem::take(&mut self.disk_waiting) {
                    if !seen.contains(&w.hash()) {
                        waited.insert(w.hash());
                        candidates.push(w);
                    }
                }
            }
            for w in candidates {
                if w.change
                    .deps()
                    .iter()
                    .all(|d| self.doc.get_change_by_hash(d).is_some())
                {
                    seen.remove(&w.hash());
                    self.pending_delta -= 1;
                    queue.push_front(w);
                } else {
                    waiting.push(w);
                }
            }
        }
        self.was_held = self.before.as_ref().is_some_and(|b| policy.keep(b));
        if self.changed() {
            if let Some(rec) = &self.current {
                self.keep = policy.keep(rec);
                if self.keep {
                    let projection =
                        postcard::to_extend(rec, state_hash(&self.doc.get_heads()).to_vec())
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let saved = (self.n_changes > COMPACT_AT).then(|| self.doc.save());
                    self.written = Some(Written { projection, saved });
                }
            }
        }
        Ok(())
    }
}

impl Store {
    /// Applies verified changes (the caller has checked signatures and authority). Returns once everything
    /// it reports is durable on disk.
    pub fn apply(
        &self,
        changes: Vec<VerifiedChange>,
        source: &str,
    ) -> Result<ApplyReport, StoreError> {
        self.apply_with(changes, source, &AcceptAll)
    }

    /// Like [`Store::apply`], consulting `policy` for every change first.
    pub fn apply_with(
        &self,
        changes: Vec<VerifiedChange>,
        source: &str,
        policy: &dyn Policy,
    ) -> Result<ApplyReport, StoreError> {
        let changes = changes.into_iter().map(|c| (c, None)).collect();
        self.apply_built(changes, source, policy)
    }

    /// Stores this node's own new members: each creation change with the document its author built from
    /// it, which is taken as is instead of being rebuilt (a bulk import's largest saving).
    pub fn apply_created(
        &self,
        created: Vec<(VerifiedChange, Automerge)>,
        source: &str,
    ) -> Result<ApplyReport, StoreError> {
        let changes = created.into_iter().map(|(c, d)| (c, Some(d))).collect();
        self.apply_built(changes, source, &AcceptAll)
    }

    fn apply_built(
        &self,
        changes: Vec<(VerifiedChange, Option<Automerge>)>,
        source: &str,
        policy: &dyn Policy,
    ) -> Result<ApplyReport, StoreError> {
        let prepared = self.prepare_built(changes, policy)?;
        self.commit(prepared, source)
    }

    /// The first half of [`Store::apply_with`]: everything but the write — documents loaded, changes
    /// applied and checked, projections encoded — so that it can run while the previous batch is being
    /// committed. Until it is committed (or dropped) its documents are reserved: a `prepare` touching
    /// one of them waits for that commit, so it sees the committed state. Prepared batches must be
    /// committed in the order they were prepared.
    pub fn prepare(
        &self,
        changes: Vec<VerifiedChange>,
        policy: &dyn Policy,
    ) -> Result<Prepared, StoreError> {
        let changes = changes.into_iter().map(|c| (c, None)).collect();
        self.prepare_built(changes, policy)
    }

    fn prepare_built(
        &self,
        changes: Vec<(VerifiedChange, Option<Automerge>)>,
        policy: &dyn Policy,
    ) -> Result<Prepared, StoreError> {
        let mut duplicates = 0;
        // Ledger changes take their own, serial path; a member change aimed at a ledger's id is refused.
        // One id, one kind: a dossier change aimed at an organisation-wide document's id, at a stored
        // ledger, or at a ledger or organisation-wide document of this same call is refused.
        let (ledger_changes, rest): (Vec<_>, Vec<_>) = changes
            .into_iter()
            .partition(|(vc, _)| matches!(vc.envelope.kind(), DocKind::Ledger | DocKind::Org));
        let mut ledgers = self.plan_ledgers(
            ledger_changes.into_iter().map(|(vc, _)| vc).collect(),
            policy,
        )?;
        // Only the ledger and organisation changes that will be applied claim their ids: a refused one
        // (a junk envelope carried beside genuine dossiers) must not take a dossier's id from it.
        let whole: HashSet<MemberId> = ledgers
            .iter()
            .filter_map(|p| match p {
                Planned::Apply { vc, .. } => Some(vc.envelope.doc()),
                _ => None,
            })
            .collect();
        let mut misaimed = Vec::new();
        let mut members = Vec::with_capacity(rest.len());
        for (vc, built) in rest {
            let id = vc.envelope.doc();
            if whole.contains(&id)
                || rollmesh_model::orgdoc::OrgDocKind::from_id(&id.0).is_some()
                || self.kv.contains_key(key(b'B', &[id.as_bytes()]))?
            {
                misaimed.push(vc);
            } else {
                members.push((vc, built));
            }
        }
        ledgers.extend(misaimed.into_iter().map(|vc| {
            let why = Rejection::new(
                RejectCode::InvalidDocument,
                "a dossier change aimed at the id of a ledger or an organisation-wide document",
            );
            Planned::Rejected(vc, why)
        }));
        let changes = members;
        // Phase one: duplicates out, changes grouped by document in order of first appearance.
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        let mut slot: HashMap<MemberId, usize> = HashMap::new();
        let mut work: Vec<DocWork> = Vec::new();
        for (vc, built) in changes {
            let hash = vc.hash();
            // Repeats within the call go here; changes stored before are found in the parallel phase.
            if !seen.insert(hash) {
                duplicates += 1;
                continue;
            }
            let id = vc.envelope.doc();
            let i = *slot.entry(id).or_insert_with(|| {
                work.push(DocWork {
                    id,
                    input: Vec::new(),
                    cached: None,
                    prebuilt: None,
                    before: None,
                    current: None,
                    doc: Automerge::new(),
                    n_changes: 0,
                    outcomes: Vec::new(),
                    duplicates: 0,
                    disk_waiting: Vec::new(),
                    pending_delta: 0,
                    written: None,
                    keep: false,
                    was_held: false,
                });
                work.len() - 1
            });
            if work[i].input.is_empty() {
                work[i].prebuilt = built;
            }
            work[i].input.push(vc);
        }
        let reservation = self.in_flight.reserve(work.iter().map(|w| w.id).collect());
        {
            let mut st = self.lock();
            for w in work.iter_mut() {
                w.cached = st.cache.pop(&w.id);
            }
        }

        // Phase two: every document on whichever core is free.
        work.par_iter_mut()
            .map(|w| w.load(self))
            .collect::<Result<Vec<()>, StoreError>>()?;
        work.par_iter_mut()
            .map(|w| w.run(policy))
            .collect::<Result<Vec<()>, StoreError>>()?;

        Ok(Prepared {
            work,
            ledgers,
            duplicates,
            _reservation: reservation,
        })
    }

    /// The second half of [`Store::apply_with`]: numbers the prepared outcomes in input order and writes
    /// them, with the indexes and counters, in one atomic batch, flushed before it returns.
    pub fn commit(&self, prepared: Prepared, source: &str) -> Result<ApplyReport, StoreError> {
        let Prepared {
            work,
            ledgers,
            duplicates,
            _reservation,
        } = prepared;
        let mut st = self.lock();
        st.version += 1;
        let mut report = ApplyReport {
            duplicates,
            ..ApplyReport::default()
        };
        // Phase three: number and write everything in one batch.
        let mut batch = sled::Batch::default();
        let mut seq = st.next_seq;
        let mut qseq = st.next_qseq;
        let mut counters = Counters::default();
        let mut pending: i64 = 0;
        let mut finished = Vec::new();
        let mut discard: Vec<Automerge> = Vec::new();
        let mut used: Vec<VerifiedChange> = Vec::new();
        for w in work {
            let id = w.id;
            let mut applied_here: Vec<(u64, [u8; 32])> = Vec::new();
            let changed = w.changed();
            pending += w.pending_delta;
            report.duplicates += w.duplicates;
            for o in w.outcomes {
                match o {
                    Outcome::Applied { vc, units, waited } => {
                        let hash = vc.hash();
                        let entry = log_entry(&hash, &units, vc.envelope.as_bytes());
                        batch.insert(key(b'L', &[&seq.to_be_bytes()]), entry);
                        batch.insert(key(b'C', &[&hash]), &seq.to_be_bytes());
                        batch.insert(key(b'H', &[id.as_bytes(), &seq.to_be_bytes()]), &hash);
                        if waited {
                            batch.remove(key(b'W', &[id.as_bytes(), &hash]));
                        }
                        applied_here.push((seq, hash));
                        seq += 1;
                        used.push(vc);
                    }
                    Outcome::Waiting(vc) => {
                        batch.insert(
                            key(b'W', &[id.as_bytes(), &vc.hash()]),
                            vc.envelope.as_bytes(),
                        );
                    }
                    Outcome::Rejected(vc, why) => {
                        quarantine_into(
                            &mut batch,
                            &mut qseq,
                            vc.envelope.as_bytes().to_vec(),
                            &why,
                            source,
                        )?;
                        report.rejected.push(why);
                    }
                    Outcome::Skipped => report.skipped += 1,
                }
            }
            let Some(rec) = w.current.as_ref().filter(|_| changed) else {
                if let Some((doc, n)) = w.cached {
                    finished.push((id, doc, n)); // not even loaded: back to the cache
                } else if w.n_changes > 0 {
                    finished.push((id, w.doc, w.n_changes));
                }
                continue;
            };
            if let Some(old) = &w.before {
                index::remove_member(&mut batch, &mut counters, old, &id);
            }
            if !w.keep {
                // The member left this node's scope: remove its dossier, indexes, history and older
                // changes; keep this call's changes (in the log) only so they reach the nodes below.
                batch.remove(key(b'P', &[id.as_bytes()]));
                batch.remove(key(b'D', &[id.as_bytes()]));
                for kv in self.kv.scan_prefix(key(b'H', &[id.as_bytes()])) {
                    // Its history before this call leaves the store, the log included.
                    let (k, h) = kv?;
                    batch.remove(key(b'L', &[&k[17..]]));
                    batch.remove(k);
                    batch.remove(key(b'C', &[&h]));
                }
                let was_held = w.was_held;
                for (s, h) in &applied_here {
                    batch.remove(key(b'H', &[id.as_bytes(), &s.to_be_bytes()]));
                    if !was_held {
                        // Never this node's member: nothing of it is stored or forwarded.
                        batch.remove(key(b'C', &[h]));
                        batch.remove(key(b'L', &[&s.to_be_bytes()]));
                    }
                }
                report.skipped += applied_here.len();
                report.evicted.push(id);
                continue;
            }
            index::add_member(&mut batch, &mut counters, rec, &id);
            if let Some(wr) = w.written {
                batch.insert(key(b'P', &[id.as_bytes()]), wr.projection);
                if let Some(saved) = wr.saved {
                    batch.insert(key(b'D', &[id.as_bytes()]), saved);
                }
            }
            report.applied.extend_from_slice(&applied_here);
            report.touched.push(id);
            if w.before.is_some() {
                // Edited members are likely to be edited again; new ones (an import, a replica) are not
                // worth evicting the cache for.
                finished.push((id, w.doc, w.n_changes));
            } else {
                discard.push(w.doc);
            }
        }
        self.commit_ledgers(
            ledgers,
            &mut st,
            Writing {
                batch: &mut batch,
                seq: &mut seq,
                qseq: &mut qseq,
                pending: &mut pending,
                report: &mut report,
                source,
            },
        )?;
        counters.write(&self.kv, &mut batch)?;
        report.pending = pending.max(0) as usize;
        batch.insert(SEQ_KEY, &seq.to_be_bytes());
        batch.insert(QSEQ_KEY, &qseq.to_be_bytes());
        self.kv.apply_batch(batch)?;
        self.db.flush()?;
        st.next_seq = seq;
        st.next_qseq = qseq;
        for (id, doc, n) in finished {
            if let Some((_, (old, _))) = st.cache.push(id, (doc, n)) {
                discard.push(old);
            }
        }
        drop(st);
        drop(_reservation);
        // Freeing thousands of documents takes time: not on the writer's thread.
        rayon::spawn(move || drop((discard, used)));
        Ok(report)
    }
}
