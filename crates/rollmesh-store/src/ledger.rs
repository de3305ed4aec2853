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
use rollmesh_model::ledger::{
    change_parts, Attached, Grant, Ledger, LedgerDoc, LedgerId, LedgerName,
};
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
    /// The cell keeping it (the host, for an attachment book).
    pub cell: UnitPath,
    /// The calendar year.
    pub year: i32,
    /// The plain view at the stored state (for an attachment book, what its grant covers).
    pub ledger: Ledger,
    /// For an attachment book: the member and their home cell.
    pub attached: Option<Attached>,
    /// For an attachment book: the attachment as the home side recorded it, if it did.
    pub grant: Option<Grant>,
}

impl LedgerHead {
    /// Which book this is.
    pub fn name(&self) -> LedgerName {
        LedgerName {
            cell: self.cell.clone(),
            year: self.year,
            attached: self.attached.clone(),
        }
    }
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
    Ledger(LedgerName),
    Org(OrgDocKind),
}

/// What the policy allowed a change to an attachment book's two parts: the host's entries, the home
/// side's grant. (A cell ledger's or an organisation-wide document's change was judged whole.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rights {
    pub host: bool,
    pub home: bool,
}

impl Rights {
    const WHOLE: Rights = Rights {
        host: true,
        home: true,
    };
    const NONE: Rights = Rights {
        host: false,
        home: false,
    };
}

/// Quarantines a refused change and reports why.
fn refuse(
    batch: &mut sled::Batch,
    qseq: &mut u64,
    vc: &VerifiedChange,
    why: Rejection,
    source: &str,
    report: &mut ApplyReport,
) -> Result<(), StoreError> {
    quarantine_into(batch, qseq, vc.envelope.as_bytes().to_vec(), &why, source)?;
    report.rejected.push(why);
    Ok(())
}

/// The policy's decision on a change to the book `name`: what it may touch (`None`: not this node's
/// business), or why it is refused. A cell's ledger is judged whole: the author must cover the cell.
/// An attachment book is judged by part: covering the host allows its entries, covering the home cell
/// its grant; which part the change touched is known from its operations ([`check_ledger_change`]).
fn judge(
    policy: &dyn Policy,
    vc: &VerifiedChange,
    name: &LedgerName,
) -> Result<Option<Rights>, Rejection> {
    let Some(a) = &name.attached else {
        return match policy.check_unit(vc, &name.cell) {
            Verdict::Accept if policy.keep_unit(&name.cell) => Ok(Some(Rights::WHOLE)),
            Verdict::Accept | Verdict::Skip => Ok(None),
            Verdict::Reject(why) => Err(why),
        };
    };
    // Host and home are two different cells, neither inside the other: a unit cannot attach a member
    // to itself, which would let one node write both parts.
    if name.cell.covers(&a.home) || a.home.covers(&name.cell) {
        return Err(Rejection::new(
            RejectCode::InvalidDocument,
            "an attachment's host and home must be two cells, neither inside the other",
        ));
    }
    let host = policy.check_unit(vc, &name.cell);
    let home = policy.check_unit(vc, &a.home);
    let rights = Rights {
        host: matches!(host, Verdict::Accept),
        home: matches!(home, Verdict::Accept),
    };
    if !rights.host && !rights.home {
        return match (host, home) {
            (Verdict::Reject(why), _) | (_, Verdict::Reject(why)) => Err(why),
            _ => Ok(None),
        };
    }
    Ok((policy.keep_unit(&name.cell) || policy.keep_unit(&a.home)).then_some(rights))
}

/// Applies one change, turning a panic inside Automerge (a malformed change the checks did not foresee:
/// an operation on an object that does not exist panics in automerge 0.12) into a refusal: `doc` is a
/// copy the caller drops on error.
pub(crate) fn apply_guarded(doc: &mut Automerge, change: automerge::Change) -> Result<(), String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.apply_changes([change]))) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("the change does not apply (it broke the document library)".into()),
    }
}

/// Checks a ledger change before it is applied to `doc` (which holds its dependencies), operation by
/// operation ([`change_parts`]): each must be one an edit writes, on an object of its own history (else
/// `invalid-document`); in an attachment book a change to the grant needs the home side's right, a
/// change to the entries the host's, and every entry it writes must be about the book's member and
/// inside the grant as the change itself sees it. Judged from the change and its own history only, so
/// every node decides alike whatever else it holds.
fn check_ledger_change(
    name: &LedgerName,
    doc: &Automerge,
    vc: &VerifiedChange,
    rights: Rights,
) -> Result<(), Rejection> {
    let parts = change_parts(name, doc, &vc.change)
        .map_err(|e| Rejection::new(RejectCode::InvalidDocument, e.to_string()))?;
    let refuse = |why: String| Err(Rejection::new(RejectCode::Unauthorized, why));
    if parts.grant && !rights.home {
        return refuse(
            "only the member's home cell or a unit above it records a temporary attachment".into(),
        );
    }
    if parts.entries && !rights.host {
        return refuse(
            "only the host cell or a unit above it records an attached member's meetings and dues"
                .into(),
        );
    }
    if !parts.outside.is_empty() {
        return refuse(format!(
            "outside the temporary attachment: {}",
            parts.outside.join(", ")
        ));
    }
    Ok(())
}

impl Place {
    /// The envelope kind of this place's changes.
    fn kind(&self) -> DocKind {
        match self {
            Place::Ledger(..) => DocKind::Ledger,
            Place::Org(_) => DocKind::Org,
        }
    }

    /// The units marker of its log entries: the cell (and an attachment book's home cell, so that
    /// both subtrees receive it), or everywhere.
    fn units(&self) -> String {
        match self {
            Place::Ledger(name) => name
                .units()
                .iter()
                .map(|u| u.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            Place::Org(_) => EVERYWHERE.to_string(),
        }
    }

    /// Checks the document is still valid after a change.
    fn check(&self, doc: &Automerge) -> Result<(), String> {
        match self {
            Place::Ledger(name) => LedgerDoc::view_of(name, doc)
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
            Place::Ledger(name) => {
                let ledger = LedgerDoc::view_of(name, doc)
                    .map_err(|e| corrupt(format!("ledger {id}: {e}")))?;
                let grant = LedgerDoc::grant_of(name, doc)
                    .map_err(|e| corrupt(format!("ledger {id}: {e}")))?;
                let head = LedgerHead {
                    cell: name.cell.clone(),
                    year: name.year,
                    ledger,
                    attached: name.attached.clone(),
                    grant,
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
        rights: Rights,
    },
    /// What the policy allows a change waiting under an attachment book, judged again for release.
    WaitingRights([u8; 32], Rights),
    Rejected(VerifiedChange, Rejection),
    /// A change stored earlier to wait, which the policy now refuses (its author was revoked since).
    DropWaiting(VerifiedChange, Rejection),
    Skipped,
    Duplicate,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Encodes a `B` value: the 32-byte state hash, the postcard [`LedgerName`] and grant, then the
/// compressed plain view ([`compact::encode`]). The place comes first and apart, so that a view written
/// by another version of the [`Ledger`] type can be rebuilt from the document without losing which
/// document it is.
fn encode_head(hash: [u8; 32], head: &LedgerHead) -> Result<Vec<u8>, StoreError> {
    let mut v = postcard::to_extend(&(head.name(), &head.grant), hash.to_vec()).map_err(corrupt)?;
    v.extend(compact::encode(&head.ledger).map_err(corrupt)?);
    Ok(v)
}

/// A decoded `B` value: state hash, which book, its grant, and the still encoded plain view.
pub(crate) type Placed<'a> = ([u8; 32], LedgerName, Option<Grant>, &'a [u8]);

/// The state hash, name and grant of a stored `B` value, and the bytes of its plain view.
pub(crate) fn decode_place(bytes: &[u8]) -> Result<Placed<'_>, StoreError> {
    let hash = <[u8; 32]>::try_from(bytes.get(..32).unwrap_or_default())
        .map_err(|_| corrupt("ledger state hash"))?;
    let ((name, grant), rest): ((LedgerName, Option<Grant>), &[u8]) =
        postcard::take_from_bytes(&bytes[32..]).map_err(|e| corrupt(format!("ledger: {e}")))?;
    Ok((hash, name, grant, rest))
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
        let (hash, name, grant, rest) = decode_place(bytes)?;
        let view = compact::decode(rest);
        let ledger = match view {
            Some(l) => l,
            None => {
                let (doc, _) = self.load_whole(id, &Place::Ledger(name.clone()))?;
                LedgerDoc::view_of(&name, &doc).map_err(|e| corrupt(format!("ledger {id}: {e}")))?
            }
        };
        Ok((
            hash,
            LedgerHead {
                cell: name.cell,
                year: name.year,
                ledger,
                attached: name.attached,
                grant,
            },
        ))
    }

    /// The ledger of `cell` for `year` as this store holds it: the genesis alone when nothing was
    /// recorded yet.
    pub fn ledger(&self, cell: &UnitPath, year: i32) -> Result<LedgerDoc, StoreError> {
        self.book(&LedgerName::cell(cell.clone(), year))
    }

    /// The book `name` (a cell's ledger or an attachment book) as this store holds it: the genesis
    /// alone when nothing was recorded yet.
    pub fn book(&self, name: &LedgerName) -> Result<LedgerDoc, StoreError> {
        let id = MemberId(name.id().0);
        let (doc, _) = self.load_whole(&id, &Place::Ledger(name.clone()))?;
        LedgerDoc::from_doc_of(name, doc).map_err(|e| corrupt(format!("ledger {id}: {e}")))
    }

    /// Every stored ledger and attachment book of a cell inside `scope` (an attachment book counts for
    /// its host and its home cell; all of them when `None`), for the screening rules.
    pub fn ledgers(&self, scope: Option<&UnitPath>) -> Result<Vec<LedgerHead>, StoreError> {
        let mut out = Vec::new();
        for kv in self.kv.scan_prefix([b'B']) {
            let (k, v) = kv?;
            let (_, name, _, _) = decode_place(&v)?;
            if scope.is_none_or(|s| name.units().iter().any(|u| s.covers(u))) {
                out.push(self.decode_head(&crate::id_from(&k[1..])?, &v)?.1);
            }
        }
        out.sort_by(|a, b| (&a.cell, a.year, &a.attached).cmp(&(&b.cell, b.year, &b.attached)));
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

    /// The units a stored document belongs to: a member's unit, a ledger's cell, an attachment book's
    /// host and home cell (none when it is not held).
    pub fn doc_units(&self, id: &MemberId) -> Result<Vec<UnitPath>, StoreError> {
        if let Some(r) = self.record(id)? {
            return Ok(r.unit().into_iter().collect());
        }
        match self.kv.get(key(b'B', &[id.as_bytes()]))? {
            Some(v) => Ok(decode_place(&v)?.1.units().into_iter().cloned().collect()),
            None => Ok(Vec::new()),
        }
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
            Place::Ledger(name) => LedgerDoc::genesis_of(name)
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
        // Each change was checked before it was stored; a panic here would still be the library's,
        // and is reported as a damaged document instead of ending the process.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.apply_changes(changes)))
            .map_err(|_| {
                corrupt(format!(
                    "ledger {id}: its changes break the document library"
                ))
            })?
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
        let mut known: HashMap<MemberId, Result<Option<LedgerName>, ()>> = HashMap::new();
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
                        rights: Rights::WHOLE,
                    }),
                    Verdict::Skip => out.push(Planned::Skipped),
                    Verdict::Reject(why) => out.push(Planned::Rejected(vc, why)),
                }
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = known.entry(id) {
                // A document id already used by a member dossier is never a ledger.
                let taken = self.kv.contains_key(key(b'P', &[id.as_bytes()]))?;
                let stored = match self.kv.get(key(b'B', &[id.as_bytes()]))? {
                    Some(v) => Some(decode_place(&v)?.1),
                    None => None,
                };
                e.insert(if taken { Err(()) } else { Ok(stored) });
            }
            let named = LedgerId(id.0).identify(vc.change.message());
            let place = match (known.get(&id).cloned().unwrap_or(Err(())), named) {
                (Err(()), _) => None,
                (Ok(Some(stored)), _) => Some(stored),
                (Ok(None), named) => named,
            };
            let Some(name) = place else {
                out.push(Planned::Rejected(
                    vc,
                    Rejection::new(
                        RejectCode::InvalidDocument,
                        "ledger change does not name the cell and year of its document",
                    ),
                ));
                continue;
            };
            match judge(policy, &vc, &name) {
                Ok(Some(rights)) => out.push(Planned::Apply {
                    vc,
                    place: Place::Ledger(name),
                    rights,
                }),
                Ok(None) => out.push(Planned::Skipped),
                Err(why) => out.push(Planned::Rejected(vc, why)),
            }
        }
        // Changes that waited for these documents were judged when they arrived; judge them again now
        // that they may be released: a revocation since then must stop them as it stops a new change.
        let mut places: Vec<(MemberId, Place)> = Vec::new();
        for p in &out {
            if let Planned::Apply { vc, place, .. } = p {
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
                let refused = match &place {
                    Place::Ledger(name) => match judge(policy, &w, name) {
                        Ok(rights) => {
                            out.push(Planned::WaitingRights(
                                w.hash(),
                                rights.unwrap_or(Rights::NONE),
                            ));
                            None
                        }
                        Err(why) => Some(why),
                    },
                    Place::Org(_) => match policy.check_org(&w) {
                        Verdict::Reject(why) => Some(why),
                        _ => None,
                    },
                };
                if let Some(why) = refused {
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
        let mut rights_of: HashMap<[u8; 32], Rights> = HashMap::new();
        let mut slot: HashMap<MemberId, usize> = HashMap::new();
        let mut dropped: HashSet<[u8; 32]> = HashSet::new();
        for p in planned {
            match p {
                Planned::DropWaiting(vc, why) => {
                    let hash = vc.hash();
                    if dropped.insert(hash) {
                        batch.remove(key(b'W', &[vc.envelope.doc().as_bytes(), &hash]));
                        *pending -= 1;
                        refuse(batch, qseq, &vc, why, source, report)?;
                    }
                }
                Planned::Duplicate => report.duplicates += 1,
                Planned::Skipped => report.skipped += 1,
                Planned::Rejected(vc, why) => {
                    refuse(batch, qseq, &vc, why, source, report)?;
                }
                Planned::WaitingRights(hash, rights) => {
                    rights_of.insert(hash, rights);
                }
                Planned::Apply { vc, place, rights } => {
                    rights_of.insert(vc.hash(), rights);
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
                // A ledger change is judged operation by operation before Automerge sees it.
                if let Place::Ledger(name) = &place {
                    let rights = rights_of.get(&hash).copied().unwrap_or(Rights::NONE);
                    if let Err(why) = check_ledger_change(name, &doc, &vc, rights) {
                        refuse(batch, qseq, &vc, why, source, report)?;
                        continue;
                    }
                }
                let mut next = doc.clone();
                let applied =
                    apply_guarded(&mut next, vc.change.clone()).and_then(|()| place.check(&next));
                if let Err(e) = applied {
                    let why = Rejection::new(RejectCode::InvalidDocument, e);
                    refuse(batch, qseq, &vc, why, source, report)?;
                    continue;
                }
                doc = next;
                n += 1;
                changed = true;
                let entry = log_entry(&hash, &place.units(), vc.envelope.as_bytes());
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
            let (hash, name, stored_grant, rest) = match decode_place(&v) {
                Ok(h) => h,
                Err(e) => {
                    problems.push(format!("ledger {id}: {e}"));
                    continue;
                }
            };
            let stored: Option<Ledger> = compact::decode(rest);
            if name.id().0 != id.0 {
                problems.push(format!("ledger {id}: stored under another ledger's id"));
                continue;
            }
            let mut doc = match LedgerDoc::genesis_of(&name) {
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
            if name.attached.is_some() {
                let grant = LedgerDoc::grant_of(&name, &doc).ok().flatten();
                if grant != stored_grant {
                    problems.push(format!("attachment book {id}: stored grant is stale"));
                }
            }
            match LedgerDoc::view_of(&name, &doc) {
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
