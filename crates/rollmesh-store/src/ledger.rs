//! Cell ledgers (one Automerge document per cell per year, `DocKind::Ledger`) in the store, beside the
//! member dossiers. They share the change log (`L`, `C`, `H`, `W`, `D`), so they are numbered, forwarded,
//! reconciled and verified like dossiers; their projection lives under `B` (doc id → state hash, then the
//! postcard [`LedgerHead`]).
//!
//! A ledger's genesis change is never stored or sent: it is the same bytes at every node
//! (`LedgerDoc::genesis`), so a document is always rebuilt from the genesis of its cell and year plus its
//! signed changes. Which cell and year a change edits comes from the stored projection or, for the first
//! change a node sees, from the change's own message, which must hash to the document id
//! (`LedgerId::identify`): a change cannot name another cell than the document it edits.
//!
//! Organisation-wide documents (`DocKind::Org`: the tree, the rule set, the calendar) take the same path:
//! fixed ids ([`OrgDocKind::id`]), the same genesis everywhere, a projection under `O` (state hash, then
//! the postcard [`OrgHead`]), and log entries marked `*` — for every scope — so they reach every node.
//!
//! Such changes are few (a meeting, a month's dues sheet, a new rule set), so they are planned in
//! [`Store::prepare`] (identified, judged by the policy) and applied serially in [`Store::commit`],
//! inside the same atomic batch as the member changes of the call.

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::{Automerge, ReadDoc};
use rollmesh_model::ledger::{Ledger, LedgerDoc, LedgerId};
use rollmesh_model::orgdoc::{versions_of, OrgDoc, OrgDocKind};
use rollmesh_model::{MemberId, UnitPath};
use rollmesh_proto::{DocKind, RejectCode, Rejection, SignedChange, VerifiedChange};
use serde::{Deserialize, Serialize};

use crate::apply::{quarantine_into, state_hash, Policy, Verdict};

/// A ledger or organisation-wide document is kept compacted (`D`) only past this many changes: a cell's
/// year has a dozen to thirty, which rebuild quickly from the log, while rewriting a growing compacted
/// copy after every monthly sheet would cost more disk than the document itself.
pub const WHOLE_COMPACT_AT: usize = 48;
use crate::{key, log_entry, ApplyReport, Store, StoreError, WriteState};

mod compact;

/// What the store keeps about a ledger besides its changes: whose and which year, and its plain view
/// (what the screening rules read, so evaluating a city's rules never loads an Automerge document).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerHead {
    /// The cell keeping it.
    pub cell: UnitPath,
    /// The calendar year.
    pub year: i32,
    /// The plain view at the stored state.
    pub ledger: Ledger,
}

/// What the store keeps about an organisation-wide document: which, and every version's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgHead {
    /// The document's name (`tree`, `rules`, `calendar`).
    pub name: String,
    /// `(version key, text)` in key order.
    pub versions: Vec<(String, String)>,
}

/// The units marker of a log entry about an organisation-wide document: every scope covers it.
pub const EVERYWHERE: &str = "*";

/// Which whole document a change edits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    Ledger(UnitPath, i32),
    Org(OrgDocKind),
}

impl Place {
    /// The envelope kind of this place's changes.
    fn kind(&self) -> DocKind {
        match self {
            Place::Ledger(..) => DocKind::Ledger,
            Place::Org(_) => DocKind::Org,
        }
    }

    fn units(&self) -> &str {
        match self {
            Place::Ledger(cell, _) => cell.as_str(),
            Place::Org(_) => EVERYWHERE,
        }
    }

    /// Checks the document is still valid after a change.
    fn check(&self, doc: &Automerge) -> Result<(), String> {
        match self {
            Place::Ledger(cell, year) => LedgerDoc::ledger_of(cell, *year, doc)
                .map_err(|e| e.to_string())
                .and_then(|l| rollmesh_model::ledger::check_texts(&l).map_err(|e| e.to_string())),
            Place::Org(kind) => versions_of(*kind, doc)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }

    /// The stored projection (`B` or `O` key and value).
    fn projection(&self, id: &MemberId, doc: &Automerge) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let hash = state_hash(&doc.get_heads());
        match self {
            Place::Ledger(cell, year) => {
                let ledger = LedgerDoc::ledger_of(cell, *year, doc)
                    .map_err(|e| corrupt(format!("ledger {id}: {e}")))?;
                let head = LedgerHead {
                    cell: cell.clone(),
                    year: *year,
                    ledger,
                };
                Ok((key(b'B', &[id.as_bytes()]), encode_head(hash, &head)?))
            }
            Place::Org(kind) => {
                let head = OrgHead {
                    name: kind.key().to_string(),
                    versions: versions_of(*kind, doc)
                        .map_err(|e| corrupt(format!("{kind}: {e}")))?,
                };
                let v = postcard::to_extend(&head, hash.to_vec()).map_err(corrupt)?;
                Ok((key(b'O', &[id.as_bytes()]), v))
            }
        }
    }
}

/// The commit's batch and counters that ledger changes are written into.
pub(crate) struct Writing<'a> {
    pub batch: &'a mut sled::Batch,
    pub seq: &'a mut u64,
    pub qseq: &'a mut u64,
    pub pending: &'a mut i64,
    pub report: &'a mut ApplyReport,
    pub source: &'a str,
}

/// One ledger change after [`Store::prepare`]: to apply to `(cell, year)`, or already decided.
pub(crate) enum Planned {
    Apply {
        vc: VerifiedChange,
        place: Place,
    },
    Rejected(VerifiedChange, Rejection),
    /// A change stored earlier to wait, which the policy now refuses (its author was revoked since).
    DropWaiting(VerifiedChange, Rejection),
    Skipped,
    Duplicate,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Encodes a `B` value: the 32-byte state hash, the postcard `(cell, year)`, then the postcard plain
/// view. The place comes first and apart, so that a view written by another version of the [`Ledger`]
/// type can be rebuilt from the document without losing which document it is.
fn encode_head(hash: [u8; 32], head: &LedgerHead) -> Result<Vec<u8>, StoreError> {
    let v = postcard::to_extend(&(&head.cell, head.year), hash.to_vec()).map_err(corrupt)?;
    postcard::to_extend(&compact::CompactLedger::from_ledger(&head.ledger), v).map_err(corrupt)
}

/// A decoded `B` value: state hash, cell, year, and the still encoded plain view.
pub(crate) type Placed<'a> = ([u8; 32], UnitPath, i32, &'a [u8]);

/// The state hash and place of a stored `B` value, and the bytes of its plain view.
pub(crate) fn decode_place(bytes: &[u8]) -> Result<Placed<'_>, StoreError> {
    let hash = <[u8; 32]>::try_from(bytes.get(..32).unwrap_or_default())
        .map_err(|_| corrupt("ledger state hash"))?;
    let ((cell, year), rest): ((UnitPath, i32), &[u8]) =
        postcard::take_from_bytes(&bytes[32..]).map_err(|e| corrupt(format!("ledger: {e}")))?;
    Ok((hash, cell, year, rest))
}

impl Store {
    /// The stored projection of a ledger document.
    pub fn ledger_head(&self, id: &MemberId) -> Result<Option<LedgerHead>, StoreError> {
        match self.kv.get(key(b'B', &[id.as_bytes()]))? {
            Some(v) => Ok(Some(self.decode_head(id, &v)?.1)),
            None => Ok(None),
        }
    }

    /// Decodes a stored `B` value; a plain view that does not decode (written by a version with another
    /// [`Ledger`] type) is rebuilt from the document.
    fn decode_head(
        &self,
        id: &MemberId,
        bytes: &[u8],
    ) -> Result<([u8; 32], LedgerHead), StoreError> {
        let (hash, cell, year, rest) = decode_place(bytes)?;
        let view = postcard::from_bytes::<compact::CompactLedger>(rest)
            .ok()
            .and_then(compact::CompactLedger::into_ledger);
        let ledger = match view {
            Some(l) => l,
            None => {
                let (doc, _) = self.load_ledger_doc(id, &cell, year)?;
                LedgerDoc::ledger_of(&cell, year, &doc)
                    .map_err(|e| corrupt(format!("ledger {id}: {e}")))?
            }
        };
        Ok((hash, LedgerHead { cell, year, ledger }))
    }

    /// The ledger of `cell` for `year` as this store holds it: the genesis alone when nothing was
    /// recorded yet.
    pub fn ledger(&self, cell: &UnitPath, year: i32) -> Result<LedgerDoc, StoreError> {
        let id = MemberId(LedgerId::of(cell, year).0);
        let (doc, _) = self.load_ledger_doc(&id, cell, year)?;
        LedgerDoc::from_doc(cell, year, doc).map_err(|e| corrupt(format!("ledger {id}: {e}")))
    }

    /// Every stored ledger of a cell inside `scope` (all of them when `None`), for the screening rules.
    pub fn ledgers(&self, scope: Option<&UnitPath>) -> Result<Vec<LedgerHead>, StoreError> {
        let mut out = Vec::new();
        for kv in self.kv.scan_prefix([b'B']) {
            let (k, v) = kv?;
            let (_, cell, _, _) = decode_place(&v)?;
            if scope.is_none_or(|s| s.covers(&cell)) {
                out.push(self.decode_head(&crate::id_from(&k[1..])?, &v)?.1);
            }
        }
        out.sort_by(|a, b| (&a.cell, a.year).cmp(&(&b.cell, b.year)));
        Ok(out)
    }

    /// Whether `id` is a stored organisation-wide document (which every scope holds).
    pub fn is_org_doc(&self, id: &MemberId) -> Result<bool, StoreError> {
        Ok(OrgDocKind::from_id(&id.0).is_some()
            && self.kv.contains_key(key(b'O', &[id.as_bytes()]))?)
    }

    /// The authors of the changes stored to wait under `id` (their chains are what a policy re-judging
    /// them needs).
    pub fn waiting_authors(
        &self,
        id: &MemberId,
    ) -> Result<Vec<rollmesh_proto::NodePublicKey>, StoreError> {
        let mut out = Vec::new();
        for kv in self.kv.scan_prefix(key(b'W', &[id.as_bytes()])) {
            let (_, v) = kv?;
            if let Ok(env) = SignedChange::decode(v.to_vec()) {
                if !out.contains(&env.author()) {
                    out.push(env.author());
                }
            }
        }
        Ok(out)
    }

    /// The unit a stored document belongs to: a member's unit, a ledger's cell.
    pub fn doc_unit(&self, id: &MemberId) -> Result<Option<UnitPath>, StoreError> {
        if let Some(r) = self.record(id)? {
            return Ok(r.unit());
        }
        Ok(self.ledger_head(id)?.map(|h| h.cell))
    }

    /// Loads a ledger document: its compacted form, or its genesis plus its signed changes. Returns it
    /// with the number of signed changes it holds.
    fn load_ledger_doc(
        &self,
        id: &MemberId,
        cell: &UnitPath,
        year: i32,
    ) -> Result<(Automerge, usize), StoreError> {
        self.load_whole(id, &Place::Ledger(cell.clone(), year))
    }

    /// An organisation-wide document as this store holds it (the genesis alone when none was
    /// published yet).
    pub fn org_doc(&self, kind: OrgDocKind) -> Result<OrgDoc, StoreError> {
        let (doc, _) = self.load_whole(&MemberId(kind.id()), &Place::Org(kind))?;
        OrgDoc::from_doc(kind, doc).map_err(|e| corrupt(format!("{kind}: {e}")))
    }

    /// The stored projection of an organisation-wide document, if any version was ever published.
    pub fn org_head(&self, kind: OrgDocKind) -> Result<Option<OrgHead>, StoreError> {
        match self.kv.get(key(b'O', &[&kind.id()]))? {
            Some(v) => Ok(Some(
                postcard::from_bytes(v.get(32..).unwrap_or_default()).map_err(corrupt)?,
            )),
            None => Ok(None),
        }
    }

    /// The state hash of an organisation-wide document (`None` when none was published).
    pub fn org_state(&self, kind: OrgDocKind) -> Result<Option<[u8; 32]>, StoreError> {
        match self.kv.get(key(b'O', &[&kind.id()]))? {
            Some(v) => Ok(Some(
                <[u8; 32]>::try_from(v.get(..32).unwrap_or_default())
                    .map_err(|_| corrupt("state hash"))?,
            )),
            None => Ok(None),
        }
    }

    /// Loads a whole document: its compacted form, or its genesis plus its signed changes.
    fn load_whole(&self, id: &MemberId, place: &Place) -> Result<(Automerge, usize), StoreError> {
        if let Some(bytes) = self.kv.get(key(b'D', &[id.as_bytes()]))? {
            let doc =
                Automerge::load(&bytes).map_err(|e| corrupt(format!("document {id}: {e}")))?;
            return Ok((doc, WHOLE_COMPACT_AT + 1));
        }
        let mut doc = match place {
            Place::Ledger(cell, year) => LedgerDoc::genesis(cell, *year)
                .map_err(|e| corrupt(format!("ledger {id}: {e}")))?
                .0
                .into_doc(),
            Place::Org(kind) => OrgDoc::genesis(*kind)
                .map_err(|e| corrupt(format!("{kind}: {e}")))?
                .0
                .into_doc(),
        };
        let mut changes = Vec::new();
        for (_, c) in self.history(id)? {
            changes.push(
                automerge::Change::from_bytes(c.change_bytes().to_vec())
                    .map_err(|e| corrupt(format!("ledger {id}: {e}")))?,
            );
        }
        let n = changes.len();
        doc.apply_changes(changes)
            .map_err(|e| corrupt(format!("ledger {id}: {e}")))?;
        Ok((doc, n))
    }

    /// Identifies and judges ledger changes (the first half of an apply call).
    pub(crate) fn plan_ledgers(
        &self,
        changes: Vec<VerifiedChange>,
        policy: &dyn Policy,
    ) -> Result<Vec<Planned>, StoreError> {
        // The stored place of each ledger, or `Err` when its id is a member dossier's.
        let mut known: HashMap<MemberId, Result<Option<(UnitPath, i32)>, ()>> = HashMap::new();
        let mut out = Vec::with_capacity(changes.len());
        for vc in changes {
            if self.has_change(&vc.hash())? {
                out.push(Planned::Duplicate);
                continue;
            }
            let id = vc.envelope.doc();
            if vc.envelope.kind() == DocKind::Org {
                let Some(kind) = OrgDocKind::from_id(&id.0) else {
                    out.push(Planned::Rejected(
                        vc,
                        Rejection::new(
                            RejectCode::InvalidDocument,
                            "not the id of an organisation-wide document",
                        ),
                    ));
                    continue;
                };
                match policy.check_org(&vc) {
                    Verdict::Accept => out.push(Planned::Apply {
                        vc,
                        place: Place::Org(kind),
                    }),
                    Verdict::Skip => out.push(Planned::Skipped),
                    Verdict::Reject(why) => out.push(Planned::Rejected(vc, why)),
                }
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = known.entry(id) {
                // A document id already used by a member dossier is never a ledger.
                let taken = self.kv.contains_key(key(b'P', &[id.as_bytes()]))?;
                let stored = self.ledger_head(&id)?.map(|h| (h.cell, h.year));
                e.insert(if taken { Err(()) } else { Ok(stored) });
            }
            let named = LedgerId(id.0).identify(vc.change.message());
            let place = match (known.get(&id).cloned().unwrap_or(Err(())), named) {
                (Err(()), _) => None,
                (Ok(Some(stored)), _) => Some(stored),
                (Ok(None), named) => named,
            };
            let Some((cell, year)) = place else {
                out.push(Planned::Rejected(
                    vc,
                    Rejection::new(
                        RejectCode::InvalidDocument,
                        "ledger change does not name the cell and year of its document",
                    ),
                ));
                continue;
            };
            match policy.check_unit(&vc, &cell) {
                Verdict::Accept if policy.keep_unit(&cell) => out.push(Planned::Apply {
                    vc,
                    place: Place::Ledger(cell, year),
                }),
                Verdict::Accept | Verdict::Skip => out.push(Planned::Skipped),
                Verdict::Reject(why) => out.push(Planned::Rejected(vc, why)),
            }
        }
        // Changes that waited for these documents were judged when they arrived; judge them again now
        // that they may be released: a revocation since then must stop them as it stops a new change.
        let mut places: Vec<(MemberId, Place)> = Vec::new();
        for p in &out {
            if let Planned::Apply { vc, place } = p {
                if !places.iter().any(|(id, _)| *id == vc.envelope.doc()) {
                    places.push((vc.envelope.doc(), place.clone()));
                }
            }
        }
        for (id, place) in places {
            let kind = place.kind();
            for kv in self.kv.scan_prefix(key(b'W', &[id.as_bytes()])) {
                let (_, v) = kv?;
                let Ok(env) = SignedChange::decode(v.to_vec()) else {
                    continue;
                };
                if env.kind() != kind {
                    continue;
                }
                let Ok(w) = env.verify() else { continue };
                let verdict = match &place {
                    Place::Ledger(cell, _) => policy.check_unit(&w, cell),
                    Place::Org(_) => policy.check_org(&w),
                };
                if let Verdict::Reject(why) = verdict {
                    out.push(Planned::DropWaiting(w, why));
                }
            }
        }
        Ok(out)
    }

    /// Applies planned ledger changes inside a commit's batch (the second half, under the write lock).
    pub(crate) fn commit_ledgers(
        &self,
        planned: Vec<Planned>,
        st: &mut WriteState,
        w: Writing<'_>,
    ) -> Result<(), StoreError> {
        let Writing {
            batch,
            seq,
            qseq,
            pending,
            report,
            source,
        } = w;
        // Grouped by document, each group in input order.
        let mut groups: Vec<(MemberId, Place, Vec<VerifiedChange>)> = Vec::new();
        let mut slot: HashMap<MemberId, usize> = HashMap::new();
        let mut dropped: HashSet<[u8; 32]> = HashSet::new();
        for p in planned {
            match p {
                Planned::DropWaiting(vc, why) => {
                    let hash = vc.hash();
                    if dropped.insert(hash) {
                        batch.remove(key(b'W', &[vc.envelope.doc().as_bytes(), &hash]));
                        *pending -= 1;
                        quarantine_into(
                            batch,
                            qseq,
                            vc.envelope.as_bytes().to_vec(),
                            &why,
                            source,
                        )?;
                        report.rejected.push(why);
                    }
                }
                Planned::Duplicate => report.duplicates += 1,
                Planned::Skipped => report.skipped += 1,
                Planned::Rejected(vc, why) => {
                    quarantine_into(batch, qseq, vc.envelope.as_bytes().to_vec(), &why, source)?;
                    report.rejected.push(why);
                }
                Planned::Apply { vc, place } => {
                    let id = vc.envelope.doc();
                    let i = *slot.entry(id).or_insert_with(|| {
                        groups.push((id, place, Vec::new()));
                        groups.len() - 1
                    });
                    groups[i].2.push(vc);
                }
            }
        }
        for (id, place, input) in groups {
            let (mut doc, mut n) = match st.cache.pop(&id) {
                Some(c) => c,
                None => self.load_whole(&id, &place)?,
            };
            // Changes stored earlier to wait for their dependencies.
            let mut waiting: Vec<VerifiedChange> = Vec::new();
            let mut from_disk: HashSet<[u8; 32]> = HashSet::new();
            let kind = place.kind();
            for kv in self.kv.scan_prefix(key(b'W', &[id.as_bytes()])) {
                let (_, v) = kv?;
                let env = SignedChange::decode(v.to_vec())
                    .map_err(|e| corrupt(format!("waiting change: {e}")))?;
                // Only changes of this document's kind, which passed the policy before they were
                // stored to wait; anything else waiting under this id is not this path's to apply.
                if env.kind() != kind {
                    continue;
                }
                if let Ok(w) = env.verify() {
                    if dropped.contains(&w.hash()) {
                        continue;
                    }
                    from_disk.insert(w.hash());
                    waiting.push(w);
                }
            }
            let mut queue: VecDeque<VerifiedChange> = input.into();
            let mut seen: HashSet<[u8; 32]> = HashSet::new();
            let mut changed = false;
            while let Some(vc) = queue.pop_front() {
                let hash = vc.hash();
                if !seen.insert(hash) || self.has_change(&hash)? {
                    continue;
                }
                if vc
                    .change
                    .deps()
                    .iter()
                    .any(|d| doc.get_change_by_hash(d).is_none())
                {
                    if !from_disk.contains(&hash) {
                        batch.insert(key(b'W', &[id.as_bytes(), &hash]), vc.envelope.as_bytes());
                        *pending += 1;
                    }
                    waiting.push(vc);
                    continue;
                }
                let mut next = doc.clone();
                let applied = next
                    .apply_changes([vc.change.clone()])
                    .map_err(|e| e.to_string())
                    .and_then(|()| place.check(&next));
                if let Err(e) = applied {
                    let why = Rejection::new(RejectCode::InvalidDocument, e);
                    quarantine_into(batch, qseq, vc.envelope.as_bytes().to_vec(), &why, source)?;
                    report.rejected.push(why);
                    continue;
                }
                doc = next;
                n += 1;
                changed = true;
                let entry = log_entry(&hash, place.units(), vc.envelope.as_bytes());
                batch.insert(key(b'L', &[&seq.to_be_bytes()]), entry);
                batch.insert(key(b'C', &[&hash]), &seq.to_be_bytes());
                batch.insert(key(b'H', &[id.as_bytes(), &seq.to_be_bytes()]), &hash);
                if from_disk.contains(&hash) {
                    batch.remove(key(b'W', &[id.as_bytes(), &hash]));
                    *pending -= 1;
                }
                report.applied.push((*seq, hash));
                *seq += 1;
                // The document advanced: waiting changes whose dependencies are all here go next.
                let (ready, still): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut waiting).into_iter().partition(|w| {
                        w.change
                            .deps()
                            .iter()
                            .all(|d| doc.get_change_by_hash(d).is_some())
                    });
                waiting = still;
                for w in ready.into_iter().rev() {
                    seen.remove(&w.hash());
                    queue.push_front(w);
                }
            }
            if changed {
                let (k, value) = place.projection(&id, &doc)?;
                batch.insert(k, value);
                if n > WHOLE_COMPACT_AT {
                    batch.insert(key(b'D', &[id.as_bytes()]), doc.save());
                }
                report.touched.push(id);
            }
            st.cache.put(id, (doc, n));
        }
        Ok(())
    }

    /// Checks every stored ledger and organisation-wide document against its signed changes (part of
    /// [`Store::verify`]); removes the histories it accounts for from `histories`.
    pub(crate) fn verify_ledgers(
        &self,
        histories: &mut std::collections::BTreeMap<MemberId, Vec<SignedChange>>,
        problems: &mut Vec<String>,
    ) -> Result<usize, StoreError> {
        for kind in OrgDocKind::ALL {
            let id = MemberId(kind.id());
            let Some(stored) = self.kv.get(key(b'O', &[id.as_bytes()]))? else {
                if histories.remove(&id).is_some() {
                    problems.push(format!("{kind} has changes but no stored state"));
                }
                continue;
            };
            let place = Place::Org(*kind);
            let mut doc = OrgDoc::genesis(*kind)
                .map_err(|e| corrupt(e.to_string()))?
                .0
                .into_doc();
            let changes = crate::verify::take_changes(histories, &id);
            if let Err(e) = doc.apply_changes(changes) {
                problems.push(format!("{kind}: its changes do not apply: {e}"));
                continue;
            }
            match place.projection(&id, &doc) {
                Ok((_, v)) if v == stored.to_vec() => {}
                Ok(_) => problems.push(format!("{kind}: projection or state hash is stale")),
                Err(e) => problems.push(format!("{kind}: {e}")),
            }
        }
        let mut n = 0;
        for kv in self.kv.scan_prefix([b'B']) {
            let (k, v) = kv?;
            let id = crate::id_from(&k[1..])?;
            n += 1;
            let (hash, cell, year, rest) = match decode_place(&v) {
                Ok(h) => h,
                Err(e) => {
                    problems.push(format!("ledger {id}: {e}"));
                    continue;
                }
            };
            let stored: Option<Ledger> = postcard::from_bytes::<compact::CompactLedger>(rest)
                .ok()
                .and_then(compact::CompactLedger::into_ledger);
            let head = (cell, year);
            let (cell, year) = head;
            if LedgerId::of(&cell, year).0 != id.0 {
                problems.push(format!("ledger {id}: stored under another ledger's id"));
                continue;
            }
            let mut doc = match LedgerDoc::genesis(&cell, year) {
                Ok((g, _)) => g.into_doc(),
                Err(e) => {
                    problems.push(format!("ledger {id}: {e}"));
                    continue;
                }
            };
            let changes = crate::verify::take_changes(histories, &id);
            if let Err(e) = doc.apply_changes(changes) {
                problems.push(format!("ledger {id}: its changes do not apply: {e}"));
                continue;
            }
            if let Some(saved) = self.kv.get(key(b'D', &[id.as_bytes()]))? {
                match Automerge::load(&saved) {
                    Ok(d) if d.get_heads() == doc.get_heads() => {}
                    Ok(_) => problems.push(format!(
                        "ledger {id}: saved state differs from its signed changes"
                    )),
                    Err(e) => problems.push(format!("ledger {id} does not load: {e}")),
                }
            }
            if hash != state_hash(&doc.get_heads()) {
                problems.push(format!("ledger {id}: state hash is stale"));
            }
            match LedgerDoc::ledger_of(&cell, year, &doc) {
                Ok(l) if Some(&l) == stored.as_ref() => {}
                Ok(_) => problems.push(format!("ledger {id}: projection is stale")),
                Err(e) => problems.push(format!("ledger {id}: {e}")),
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
