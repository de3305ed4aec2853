//! Applying verified changes: one atomic, flushed sled batch per call. Changes whose dependencies have not
//! arrived wait under `W` and are retried whenever their document advances; changes that would leave an
//! invalid dossier are quarantined inside the same batch.

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::{Automerge, ReadDoc};
use rollmesh_model::{Dossier, MemberId, MemberRecord};
use rollmesh_proto::{RejectCode, Rejection, SignedChange, VerifiedChange};

use crate::{
    decode_record, key, name_key, now, unit_key, QuarantineEntry, Store, StoreError, QSEQ_KEY,
    SEQ_KEY,
};

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

/// The node's authority and scope rules, consulted for every change before it is applied.
pub trait Policy {
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

struct Touched {
    doc: Automerge,
    before: Option<MemberRecord>,
    current: Option<MemberRecord>,
    changed: bool,
    /// Log sequence numbers and hashes of the changes applied to it in this call.
    applied: Vec<(u64, [u8; 32])>,
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

/// Quarantines a change inside the current batch and reports it.
fn refuse(
    batch: &mut sled::Batch,
    qseq: &mut u64,
    report: &mut ApplyReport,
    vc: &VerifiedChange,
    why: Rejection,
    source: &str,
) -> Result<(), StoreError> {
    quarantine_into(batch, qseq, vc.envelope.as_bytes().to_vec(), &why, source)?;
    report.rejected.push(why);
    Ok(())
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
        let mut st = self.lock();
        let mut report = ApplyReport::default();
        let mut batch = sled::Batch::default();
        let mut seq = st.next_seq;
        let mut qseq = st.next_qseq;
        let mut docs: HashMap<MemberId, Touched> = HashMap::new();
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        // Waiting changes of this batch, by document, so a later change in the same call can release them.
        let mut waiting: HashMap<MemberId, Vec<VerifiedChange>> = HashMap::new();
        let mut retried_from_disk: HashSet<MemberId> = HashSet::new();
        let mut queue: VecDeque<VerifiedChange> = changes.into();

        while let Some(vc) = queue.pop_front() {
            let hash = vc.hash();
            let id = vc.envelope.doc();
            if seen.contains(&hash) || self.kv.contains_key(key(b'C', &[&hash]))? {
                report.duplicates += 1;
                continue;
            }
            let t = match docs.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(self.load_for_write(&mut st.cache, &id)?)
                }
            };
            let missing = vc
                .change
                .deps()
                .iter()
                .any(|d| t.doc.get_change_by_hash(d).is_none());
            if missing {
                batch.insert(key(b'W', &[id.as_bytes(), &hash]), vc.envelope.as_bytes());
                seen.insert(hash);
                waiting.entry(id).or_default().push(vc);
                report.pending += 1;
                continue;
            }
            let mut next = t.doc.clone();
            if let Err(e) = next.apply_changes([vc.change.clone()]) {
                let why = Rejection::new(RejectCode::BadChange, e.to_string());
                refuse(&mut batch, &mut qseq, &mut report, &vc, why, source)?;
                seen.insert(hash);
                continue;
            }
            let after = match Dossier::record_of(id, &next) {
                Ok(r) => r,
                Err(e) => {
                    let why = Rejection::new(RejectCode::InvalidDocument, e.to_string());
                    refuse(&mut batch, &mut qseq, &mut report, &vc, why, source)?;
                    seen.insert(hash);
                    continue;
                }
            };
            match policy.check(&vc, t.current.as_ref(), &after) {
                Verdict::Accept => {}
                Verdict::Skip => {
                    report.skipped += 1;
                    seen.insert(hash);
                    continue;
                }
                Verdict::Reject(why) => {
                    refuse(&mut batch, &mut qseq, &mut report, &vc, why, source)?;
                    seen.insert(hash);
                    continue;
                }
            }
            let mut log_value = hash.to_vec();
            let before_unit = t.current.as_ref().and_then(MemberRecord::unit);
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
            log_value.extend_from_slice(units.join("\n").as_bytes());
            t.doc = next;
            t.current = Some(after);
            t.changed = true;
            t.applied.push((seq, hash));
            seen.insert(hash);
            batch.insert(key(b'C', &[&hash]), vc.envelope.as_bytes());
            batch.insert(key(b'L', &[&seq.to_be_bytes()]), log_value);
            batch.insert(key(b'H', &[id.as_bytes(), &seq.to_be_bytes()]), &hash);
            batch.remove(key(b'W', &[id.as_bytes(), &hash]));
            report.applied.push((seq, hash));
            seq += 1;

            // The document advanced: release waiting changes whose dependencies are now all present.
            let mut candidates = waiting.remove(&id).unwrap_or_default();
            if retried_from_disk.insert(id) {
                for kv in self.kv.scan_prefix(key(b'W', &[id.as_bytes()])) {
                    let (_, v) = kv?;
                    let env = SignedChange::decode(v.to_vec())
                        .map_err(|e| StoreError::Corrupt(format!("waiting change: {e}")))?;
                    // It was verified before it was stored; re-verify anyway, it is cheap next to a fault.
                    if let Ok(w) = env.verify() {
                        if !seen.contains(&w.hash()) {
                            candidates.push(w);
                        }
                    }
                }
            }
            for w in candidates {
                if w.change
                    .deps()
                    .iter()
                    .all(|d| t.doc.get_change_by_hash(d).is_some())
                {
                    seen.remove(&w.hash());
                    report.pending = report.pending.saturating_sub(1);
                    queue.push_front(w);
                } else {
                    waiting.entry(id).or_default().push(w);
                }
            }
        }

        let mut finished = Vec::new();
        for (id, t) in docs {
            if !t.changed {
                continue;
            }
            let Some(rec) = t.current else {
                continue;
            };
            if !policy.keep(&rec) {
                // The member left this node's scope: remove its dossier, indexes, history and older
                // changes; keep this call's changes (in the log) only so they reach the nodes below.
                if let Some(old) = &t.before {
                    if let Some(u) = old.unit() {
                        batch.remove(unit_key(&u, &id));
                    }
                    batch.remove(name_key(old.name(), &id));
                }
                batch.remove(key(b'P', &[id.as_bytes()]));
                batch.remove(key(b'D', &[id.as_bytes()]));
                batch.remove(key(b'S', &[id.as_bytes()]));
                for kv in self.kv.scan_prefix(key(b'H', &[id.as_bytes()])) {
                    let (k, h) = kv?;
                    batch.remove(k);
                    if !t.applied.iter().any(|(_, x)| x[..] == h[..]) {
                        batch.remove(key(b'C', &[&h]));
                        batch.insert(key(b'E', &[&h]), &[]);
                    }
                }
                let was_held = t.before.as_ref().is_some_and(|b| policy.keep(b));
                for (s, h) in &t.applied {
                    batch.remove(key(b'H', &[id.as_bytes(), &s.to_be_bytes()]));
                    if !was_held {
                        // Never this node's member: nothing of it is stored or forwarded.
                        batch.remove(key(b'C', &[h]));
                        batch.remove(key(b'L', &[&s.to_be_bytes()]));
                    }
                }
                report.skipped += t.applied.len();
                report
                    .applied
                    .retain(|(s, _)| !t.applied.iter().any(|(x, _)| x == s));
                report.evicted.push(id);
                continue;
            }
            let pk = key(b'P', &[id.as_bytes()]);
            if let Some(old) = &t.before {
                if old.unit() != rec.unit() {
                    if let Some(u) = old.unit() {
                        batch.remove(unit_key(&u, &id));
                    }
                }
                if old.name() != rec.name() {
                    batch.remove(name_key(old.name(), &id));
                }
            }
            if let Some(u) = rec.unit() {
                batch.insert(unit_key(&u, &id), &[]);
            }
            batch.insert(name_key(rec.name(), &id), &[]);
            let enc =
                postcard::to_allocvec(&rec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            batch.insert(pk, enc);
            batch.insert(key(b'D', &[id.as_bytes()]), t.doc.save());
            batch.insert(key(b'S', &[id.as_bytes()]), &state_hash(&t.doc.get_heads()));
            report.touched.push(id);
            finished.push((id, t.doc));
        }
        batch.insert(SEQ_KEY, &seq.to_be_bytes());
        batch.insert(QSEQ_KEY, &qseq.to_be_bytes());
        self.kv.apply_batch(batch)?;
        self.db.flush()?;
        st.next_seq = seq;
        st.next_qseq = qseq;
        for (id, doc) in finished {
            st.cache.put(id, doc);
        }
        for id in &report.evicted {
            st.cache.pop(id);
        }
        Ok(report)
    }

    fn load_for_write(
        &self,
        cache: &mut lru::LruCache<MemberId, Automerge>,
        id: &MemberId,
    ) -> Result<Touched, StoreError> {
        let before = match self.kv.get(key(b'P', &[id.as_bytes()]))? {
            Some(b) => Some(decode_record(&b)?),
            None => None,
        };
        // Take the cached copy out: if this batch fails, the cache must not hold unwritten state.
        let doc = match cache.pop(id) {
            Some(d) => d,
            None => match self.kv.get(key(b'D', &[id.as_bytes()]))? {
                Some(bytes) => Automerge::load(&bytes).map_err(|e| {
                    StoreError::Corrupt(format!("document {id} does not load: {e}"))
                })?,
                None => Automerge::new(),
            },
        };
        Ok(Touched {
            doc,
            current: before.clone(),
            before,
            changed: false,
            applied: Vec::new(),
        })
    }
}
