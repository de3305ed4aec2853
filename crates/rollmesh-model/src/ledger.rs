//! The cell ledger (sổ sinh hoạt và đảng phí): one Automerge document per cell per calendar year holding
//! the meetings the cell held, who attended them, and each member's dues for each month (docs/BRIEF.md §3).
//!
//! The plain types ([`Ledger`], [`Meeting`], [`MeetingKind`], [`Attendance`], [`Dues`]) are what the rest
//! of the system reads (the screening rules take them as facts). [`LedgerDoc`] maps them to Automerge and
//! is the only place that knows the ledger's Automerge keys:
//!
//! - root: `kind` = [`LEDGER_KIND`], `cell` (the unit path), `year` (an integer), and two maps;
//! - `meetings`: [`MeetingKey`] text (`2025-03-11/regular`, `2025-03-11/regular-2`) → the topic;
//! - `members`: member id → that member's map for the year, whose keys are `a/<meeting key>` → an
//!   attendance code, `d/<MM>` (`01`..`12`) → a dues code, `r` → the rating, and `h/start/<date>`,
//!   `h/end/<date>`, `h/note/<date>` → the educate-and-help list.
//!
//! A member's id is written once a year, when their map is made; every later change refers to the map
//! by its object id, so a month's sheet costs a few bytes per member, not the 26-character id again.
//! Two nodes making the same member's map concurrently make two maps under one key: a reader merges
//! them (for each key the value written last, in Automerge's order, wins; concurrent different values
//! are listed by [`LedgerDoc::conflicts`]), and a writer writes into the winning one and removes a
//! cleared entry from each, so nothing is lost. The root maps come from the **genesis change**
//! ([`LedgerDoc::genesis`]), built with an actor derived from the [`LedgerId`] and time 0, so every node
//! that creates the ledger of cell X for year Y produces the same change, byte for byte, with the same
//! hash: independent creations are one change, not rival root objects.
//!
//! Codes: attendance `p` (present), `a+` / `a-` (absent, reason accepted / not accepted), each optionally
//! followed by `:` and the reason; dues `p:<amount>:<YYYY-MM-DD>` (paid) or `u+` / `u-` (unpaid, reason
//! accepted / not), optionally followed by `:` and the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, Automerge, AutomergeError, Change, ObjId, ObjType, ReadDoc, ScalarValue,
    ScalarValueRef, Value, ValueRef, ROOT,
};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::member::MemberId;
use crate::text;
use crate::unit::UnitPath;

mod attach;
mod codes;
mod edit;
mod ident;
mod ops;
mod read;
mod view;

pub use attach::*;
#[allow(unused_imports)]
use codes::*;
pub use edit::*;
pub use ident::*;
pub use ops::*;
use read::*;
pub use view::*;

// ---------------------------------------------------------------------------------------------------
// Errors and edits.
// ---------------------------------------------------------------------------------------------------

/// Why a ledger could not be created, edited or read.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Automerge refused an operation or a load.
    #[error("automerge: {0}")]
    Automerge(#[from] AutomergeError),
    /// The document is not a cell ledger (wrong or missing `kind`, or a skeleton not made by the
    /// genesis change).
    #[error("document is not a cell ledger")]
    NotALedger,
    /// The document is the ledger of another cell or year.
    #[error(
        "document is the ledger of {found_cell:?} for {found_year:?}, not of {cell} for {year}"
    )]
    WrongLedger {
        /// The expected cell.
        cell: String,
        /// The expected year.
        year: i32,
        /// The cell it names.
        found_cell: Option<String>,
        /// The year it names.
        found_year: Option<i64>,
    },
    /// Two ledger documents with different ids cannot be merged.
    #[error("cannot merge the ledger {0} into the ledger {1}")]
    DifferentLedgers(LedgerId, LedgerId),
    /// The year is outside [`YEARS`].
    #[error("year {0} is outside 1900-2200")]
    Year(i32),
    /// A meeting is dated outside the ledger's year.
    #[error("meeting {meeting} is not in {year}")]
    OutsideYear {
        /// The meeting.
        meeting: MeetingKey,
        /// The ledger's year.
        year: i32,
    },
    /// A meeting number outside 1..=[`MAX_SAME_DAY`].
    #[error("meeting {0}: a day has at most {MAX_SAME_DAY} meetings of a kind")]
    MeetingNumber(MeetingKey),
    /// Attendance for a meeting that was never recorded.
    #[error("meeting {0} is not recorded")]
    UnknownMeeting(MeetingKey),
    /// A month outside 1..=12.
    #[error("month {0} is not 1-12")]
    Month(u32),
    /// A payment date outside [`YEARS`].
    #[error("payment date {0} is out of range")]
    PaymentDate(NaiveDate),
    /// The same member-month is both set and cleared in one edit.
    #[error("dues of {member} for month {month} are both set and cleared")]
    SetAndCleared {
        /// The member.
        member: MemberId,
        /// The month.
        month: u32,
    },
    /// A topic or reason was refused.
    #[error("{what}: {value:?} is not {expected}")]
    Text {
        /// `topic` or `reason`.
        what: &'static str,
        /// The offending input.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// An educate-and-help list entry is dated outside the ledger's year.
    #[error("educate-and-help list entry of {date} is not in {year}")]
    HelpOutsideYear {
        /// The entry's day.
        date: NaiveDate,
        /// The ledger's year.
        year: i32,
    },
    /// An edit was attempted with the genesis actor, which authors the genesis change only.
    #[error("the genesis actor of a ledger may not author edits")]
    GenesisActor,
    /// A grant written into a cell's own ledger (only attachment books hold one).
    #[error("only an attachment book records a temporary attachment")]
    NotAnAttachmentBook,
    /// An attachment book entry about another member than the book's.
    #[error("the attachment book of {book} holds no entries about {member}")]
    NotAttached {
        /// The book's member.
        book: MemberId,
        /// The member named.
        member: MemberId,
    },
    /// An attachment book entry the grant does not cover (or a rating or help-list entry, which
    /// only the home cell's ledger keeps).
    #[error("{0} is outside the temporary attachment")]
    OutsideAttachment(Outside),
    /// A received change holds an operation no edit writes (described).
    #[error("not a ledger edit: {0}")]
    BadOperation(String),
    /// A grant whose last day comes before its first.
    #[error("an attachment cannot end ({until}) before it starts ({from})")]
    GrantDates {
        /// First day.
        from: NaiveDate,
        /// Last day.
        until: NaiveDate,
    },
}

/// Entries holding concurrent, different values, each with every distinct value, the one
/// [`LedgerDoc::read`] shows (Automerge's winner) first. Identical concurrent values (two nodes
/// recording the same thing) are not conflicts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerConflicts {
    /// Meetings whose topic was set concurrently.
    pub topics: BTreeMap<MeetingKey, Vec<String>>,
    /// (meeting, member id) whose attendance was set concurrently.
    pub attendance: BTreeMap<(MeetingKey, String), Vec<Attendance>>,
    /// (member id, month) whose dues were set concurrently.
    pub dues: BTreeMap<(String, u32), Vec<Dues>>,
}

impl LedgerConflicts {
    /// True when nothing is in conflict.
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty() && self.attendance.is_empty() && self.dues.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------------
// The document.
// ---------------------------------------------------------------------------------------------------

const MEETINGS: &str = "meetings";
const MEMBERS: &str = "members";
const GRANT: &str = "grant";

/// A loaded cell ledger.
#[derive(Debug, Clone)]
pub struct LedgerDoc {
    id: LedgerId,
    name: LedgerName,
    doc: Automerge,
    /// The `grant` map of an attachment book.
    grant: Option<ObjId>,
    meetings: ObjId,
    members: ObjId,
}

impl LedgerDoc {
    /// The ledger of `cell` for `year` as created by its genesis change, and that change.
    pub fn genesis(cell: &UnitPath, year: i32) -> Result<(LedgerDoc, Change), LedgerError> {
        Self::genesis_of(&LedgerName::cell(cell.clone(), year))
    }

    /// The book `name` as created by its genesis change, and that change. The change is the same bytes
    /// at every node (actor [`LedgerId::genesis_actor`], time 0, fixed message and operations), so
    /// independent creations are one change with one hash; every edit is made on top of it by the
    /// editing node's own actor.
    pub fn genesis_of(name: &LedgerName) -> Result<(LedgerDoc, Change), LedgerError> {
        if !YEARS.contains(&name.year) {
            return Err(LedgerError::Year(name.year));
        }
        let id = name.id();
        let mut doc = Automerge::new().with_actor(id.genesis_actor());
        doc.transact_with::<_, _, AutomergeError, _>(
            |_| {
                CommitOptions::default()
                    .with_message(GENESIS_MESSAGE)
                    .with_time(0)
            },
            |tx| {
                match &name.attached {
                    None => tx.put(ROOT, "kind", LEDGER_KIND)?,
                    Some(a) => {
                        tx.put(ROOT, "kind", ATTACHMENT_KIND)?;
                        tx.put(ROOT, "member", a.member.to_string())?;
                        tx.put(ROOT, "home", a.home.as_str())?;
                        tx.put_object(ROOT, GRANT, ObjType::Map)?;
                    }
                }
                tx.put(ROOT, "cell", name.cell.as_str())?;
                tx.put(ROOT, "year", i64::from(name.year))?;
                tx.put_object(ROOT, MEETINGS, ObjType::Map)?;
                tx.put_object(ROOT, MEMBERS, ObjType::Map)?;
                Ok(())
            },
        )
        .map_err(|f| f.error)?;
        let change = doc.get_last_local_change().ok_or(LedgerError::NotALedger)?;
        Ok((LedgerDoc::from_doc_of(name, doc)?, change))
    }

    /// Wraps a document after checking that it is the ledger of `cell` for `year`, grown from its
    /// genesis change.
    pub fn from_doc(cell: &UnitPath, year: i32, doc: Automerge) -> Result<LedgerDoc, LedgerError> {
        Self::from_doc_of(&LedgerName::cell(cell.clone(), year), doc)
    }

    /// Wraps a document after checking that it is the book `name`, grown from its genesis change.
    pub fn from_doc_of(name: &LedgerName, doc: Automerge) -> Result<LedgerDoc, LedgerError> {
        let ([meetings, members], grant) = check(name, &doc)?;
        Ok(LedgerDoc {
            id: name.id(),
            name: name.clone(),
            doc,
            grant,
            meetings,
            members,
        })
    }

    /// Loads a saved document and checks it is the ledger of `cell` for `year`.
    pub fn load(cell: &UnitPath, year: i32, bytes: &[u8]) -> Result<LedgerDoc, LedgerError> {
        Self::from_doc(cell, year, Automerge::load(bytes)?)
    }

    /// The plain view of a document that should be the ledger of `cell` for `year`, without taking
    /// ownership of it.
    pub fn ledger_of(cell: &UnitPath, year: i32, doc: &Automerge) -> Result<Ledger, LedgerError> {
        Self::view_of(&LedgerName::cell(cell.clone(), year), doc)
    }

    /// The plain view of a document that should be the book `name` (for an attachment book, only the
    /// member's entries inside the granted period), without taking ownership of it.
    pub fn view_of(name: &LedgerName, doc: &Automerge) -> Result<Ledger, LedgerError> {
        let (maps, grant) = check(name, doc)?;
        let raw = read(doc, &name.cell, name.year, &maps);
        Ok(match (&name.attached, grant) {
            (None, _) => raw,
            (Some(a), grant) => attach::within(raw, a, grant.and_then(|g| read_grant(doc, &g))),
        })
    }

    /// The grant of a document that should be the attachment book `name` (`None` for a cell's ledger
    /// and for a book whose grant was not written yet), without taking ownership of it.
    pub fn grant_of(name: &LedgerName, doc: &Automerge) -> Result<Option<Grant>, LedgerError> {
        let (_, grant) = check(name, doc)?;
        Ok(grant.and_then(|g| read_grant(doc, &g)))
    }

    /// The document id.
    pub fn id(&self) -> LedgerId {
        self.id
    }

    /// The cell keeping the ledger (the host, for an attachment book).
    pub fn cell(&self) -> &UnitPath {
        &self.name.cell
    }

    /// The calendar year.
    pub fn year(&self) -> i32 {
        self.name.year
    }

    /// Which book this is.
    pub fn name(&self) -> &LedgerName {
        &self.name
    }

    /// The attachment an attachment book records, as the home side granted it (`None` for a cell's
    /// own ledger, and for a book whose grant was not written yet).
    pub fn grant(&self) -> Option<Grant> {
        self.grant.as_ref().and_then(|g| read_grant(&self.doc, g))
    }

    /// The underlying document.
    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    /// Consumes the ledger, returning the document.
    pub fn into_doc(self) -> Automerge {
        self.doc
    }

    /// The saved (compressed) document.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// Applies changes received from elsewhere (the genesis change is one of them, or already here).
    pub fn apply_changes(
        &mut self,
        changes: impl IntoIterator<Item = Change> + Clone,
    ) -> Result<(), LedgerError> {
        self.doc.apply_changes(changes)?;
        Ok(())
    }

    /// Merges every change of `other`, the same ledger held elsewhere.
    pub fn merge(&mut self, other: &mut LedgerDoc) -> Result<(), LedgerError> {
        if other.id != self.id {
            return Err(LedgerError::DifferentLedgers(other.id, self.id));
        }
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// The key for a new meeting of `kind` on `date`: the first number not yet recorded that day.
    pub fn next_meeting_key(&self, date: NaiveDate, kind: MeetingKind) -> MeetingKey {
        let mut key = MeetingKey::new(date, kind);
        while key.n < MAX_SAME_DAY && self.has_meeting(&key) {
            key.n += 1;
        }
        key
    }

    /// Whether a meeting is recorded.
    pub fn has_meeting(&self, key: &MeetingKey) -> bool {
        matches!(self.doc.get(&self.meetings, key.to_string()), Ok(Some(_)))
    }

    /// The keys of every recorded meeting, in order.
    pub fn meeting_keys(&self) -> Vec<MeetingKey> {
        self.doc
            .map_range(&self.meetings, ..)
            .filter_map(|item| item.key.parse::<MeetingKey>().ok())
            .filter(|k| k.date.year() == self.name.year)
            .collect()
    }

    /// Records a meeting (or changes its topic) as one change by `actor`; `None` when nothing changes.
    pub fn record_meeting(
        &mut self,
        actor: ActorId,
        key: MeetingKey,
        topic: &str,
        time: i64,
    ) -> Result<Option<Change>, LedgerError> {
        let mut e = LedgerEdit::new();
        e.record_meeting(key, topic);
        self.edit(actor, &e, time)
    }

    /// Sets one member's attendance at a recorded meeting as one change; `None` when nothing changes.
    pub fn set_attendance(
        &mut self,
        actor: ActorId,
        meeting: MeetingKey,
        member: MemberId,
        attendance: Attendance,
        time: i64,
    ) -> Result<Option<Change>, LedgerError> {
        let mut e = LedgerEdit::new();
        e.set_attendance(meeting, member, attendance);
        self.edit(actor, &e, time)
    }

    /// Sets one member's dues for one month (1–12) as one change; `None` when nothing changes.
    pub fn set_dues(
        &mut self,
        actor: ActorId,
        member: MemberId,
        month: u32,
        dues: Dues,
        time: i64,
    ) -> Result<Option<Change>, LedgerError> {
        let mut e = LedgerEdit::new();
        e.set_dues(member, month, dues);
        self.edit(actor, &e, time)
    }

    /// Removes one member's dues entry for one month as one change; `None` when there was none.
    pub fn clear_dues(
        &mut self,
        actor: ActorId,
        member: MemberId,
        month: u32,
        time: i64,
    ) -> Result<Option<Change>, LedgerError> {
        let mut e = LedgerEdit::new();
        e.clear_dues(member, month);
        self.edit(actor, &e, time)
    }

    /// Validates `edit` and applies what it changes as one change authored by `actor`; `None` when it
    /// changes nothing. Topics and reasons are cleaned ([`text::clean`]); a blank reason is no reason.
    pub fn edit(
        &mut self,
        actor: ActorId,
        edit: &LedgerEdit,
        time: i64,
    ) -> Result<Option<Change>, LedgerError> {
        if actor == self.id.genesis_actor() {
            return Err(LedgerError::GenesisActor);
        }
        // Validate everything first, turning the edit into puts and deletes: root-level (`meetings`,
        // `grant`) and per member.
        let mut puts: Vec<(ObjId, String, String)> = Vec::new();
        let mut member_puts: BTreeMap<MemberId, Vec<(String, String)>> = BTreeMap::new();
        let mut member_deletes: BTreeMap<MemberId, Vec<String>> = BTreeMap::new();
        let mut counts = EditCounts::default();
        for (key, topic) in &edit.meetings {
            self.check_meeting(key)?;
            puts.push((
                self.meetings.clone(),
                key.to_string(),
                clean_text("topic", topic)?,
            ));
        }
        for ((meeting, member), a) in &edit.attendance {
            self.check_meeting(meeting)?;
            if !edit.meetings.contains_key(meeting) && !self.has_meeting(meeting) {
                return Err(LedgerError::UnknownMeeting(*meeting));
            }
            member_puts
                .entry(*member)
                .or_default()
                .push((attendance_key(meeting), encode_attendance(a)?));
        }
        for ((member, month), d) in &edit.dues {
            check_month(*month)?;
            if edit.cleared_dues.contains(&(*member, *month)) {
                return Err(LedgerError::SetAndCleared {
                    member: *member,
                    month: *month,
                });
            }
            member_puts
                .entry(*member)
                .or_default()
                .push((dues_key(*month), encode_dues(d)?));
        }
        for (member, month) in &edit.cleared_dues {
            check_month(*month)?;
            member_deletes
                .entry(*member)
                .or_default()
                .push(dues_key(*month));
        }
        for (member, rating) in &edit.ratings {
            member_puts
                .entry(*member)
                .or_default()
                .push((RATING_KEY.to_string(), rating.key().to_string()));
        }
        for ((member, entry), note) in &edit.help {
            if entry.date().year() != self.name.year {
                return Err(LedgerError::HelpOutsideYear {
                    date: entry.date(),
                    year: self.name.year,
                });
            }
            let value = match entry {
                HelpEntry::Note(_) => clean_text("note", note)?,
                _ => "1".to_string(),
            };
            member_puts
                .entry(*member)
                .or_default()
                .push((help_key(*entry), value));
        }
        if let Some(g) = &edit.grant {
            let obj = self.grant.clone().ok_or(LedgerError::NotAnAttachmentBook)?;
            for (key, value) in g.entries() {
                puts.push((obj.clone(), key.to_string(), value));
            }
        }
        if let Some(a) = &self.name.attached {
            let grant = edit.grant.clone().or_else(|| self.grant());
            attach::check_edit(edit, a, self.name.year, grant)?;
        }
        // Keep only what changes something: a put whose value is already the only value (in every map
        // of the member), or a delete of an absent key, is dropped.
        let changes =
            |all: &[String], value: &str| all.is_empty() || all.iter().any(|v| v != value);
        puts.retain(|(obj, key, value)| {
            let all: Vec<String> = self
                .doc
                .get_all(obj, key.as_str())
                .unwrap_or_default()
                .iter()
                .filter_map(|(v, _)| v.as_str().map(str::to_string))
                .collect();
            changes(&all, value)
        });
        let objs: BTreeMap<MemberId, Vec<ObjId>> = member_puts
            .keys()
            .chain(member_deletes.keys())
            .map(|m| (*m, member_maps(&self.doc, &self.members, &m.to_string())))
            .collect();
        let values = |m: &MemberId, key: &str| -> Vec<String> {
            objs[m]
                .iter()
                .flat_map(|o| self.doc.get_all(o, key).unwrap_or_default())
                .filter_map(|(v, _)| v.as_str().map(str::to_string))
                .collect()
        };
        for (m, list) in member_puts.iter_mut() {
            list.retain(|(key, value)| changes(&values(m, key), value));
            for (key, _) in list.iter() {
                counts.count(key);
            }
        }
        member_puts.retain(|_, list| !list.is_empty());
        for (m, list) in member_deletes.iter_mut() {
            list.retain(|key| !values(m, key).is_empty());
            counts.cleared += list.len();
        }
        member_deletes.retain(|_, list| !list.is_empty());
        if puts.is_empty() && member_puts.is_empty() && member_deletes.is_empty() {
            return Ok(None);
        }
        counts.meetings = puts
            .iter()
            .filter(|(o, _, _)| *o == self.meetings)
            .map(|(_, k, _)| k.clone())
            .collect();
        counts.grant = puts.iter().any(|(o, _, _)| Some(o) == self.grant.as_ref());
        let message = format!("{}: {}", self.name.head(), counts.message());
        let members = self.members.clone();
        let winner = |m: &MemberId| -> Option<ObjId> {
            match self.doc.get(&members, m.to_string()) {
                Ok(Some((Value::Object(ObjType::Map), obj))) => Some(obj),
                _ => None,
            }
        };
        let targets: BTreeMap<MemberId, Option<ObjId>> =
            member_puts.keys().map(|m| (*m, winner(m))).collect();
        self.doc.set_actor(actor);
        self.doc
            .transact_with::<_, _, AutomergeError, _>(
                |_| {
                    CommitOptions::default()
                        .with_message(message)
                        .with_time(time)
                },
                |tx| {
                    for (obj, key, value) in &puts {
                        tx.put(obj, key.as_str(), value.as_str())?;
                    }
                    for (m, list) in &member_puts {
                        let obj = match targets.get(m).cloned().flatten() {
                            Some(o) => o,
                            None => tx.put_object(&members, m.to_string(), ObjType::Map)?,
                        };
                        for (key, value) in list {
                            tx.put(&obj, key.as_str(), value.as_str())?;
                            // The value supersedes what the member's other maps (made concurrently)
                            // hold under the key.
                            for other in objs[m].iter().filter(|o| **o != obj) {
                                if matches!(tx.get(other, key.as_str()), Ok(Some(_))) {
                                    tx.delete(other, key.as_str())?;
                                }
                            }
                        }
                    }
                    for (m, list) in &member_deletes {
                        for obj in &objs[m] {
                            for key in list {
                                if matches!(tx.get(obj, key.as_str()), Ok(Some(_))) {
                                    tx.delete(obj, key.as_str())?;
                                }
                            }
                        }
                    }
                    Ok(())
                },
            )
            .map_err(|f| f.error)?;
        Ok(self.doc.get_last_local_change())
    }

    /// The plain view of the current state. Where two nodes set an entry concurrently, it shows
    /// Automerge's winner, the same at every node holding the same changes; [`LedgerDoc::conflicts`]
    /// lists such entries.
    pub fn read(&self) -> Ledger {
        let raw = read(&self.doc, &self.name.cell, self.name.year, &self.maps());
        match &self.name.attached {
            None => raw,
            Some(a) => attach::within(raw, a, self.grant()),
        }
    }

    fn maps(&self) -> [ObjId; 2] {
        [self.meetings.clone(), self.members.clone()]
    }

    /// Every topic, attendance and member-month holding concurrent different values.
    pub fn conflicts(&self) -> LedgerConflicts {
        let mut out = LedgerConflicts::default();
        for (key, values) in conflicted(&self.doc, &self.meetings) {
            if let Ok(m) = key.parse::<MeetingKey>() {
                out.topics.insert(m, values);
            }
        }
        for item in self.doc.map_range(&self.members, ..) {
            let Some(member) = canonical_member(&item.key) else {
                continue;
            };
            for (key, values) in member_entries(&self.doc, &self.members, &item.key) {
                let mut distinct: Vec<&str> = Vec::new();
                // The winner first, then the others once each.
                for (_, v) in values.iter().rev() {
                    if !distinct.contains(&v.as_str()) {
                        distinct.push(v);
                    }
                }
                if distinct.len() < 2 {
                    continue;
                }
                if let Some(meeting) = parse_attendance_key(&key) {
                    let values: Vec<Attendance> = distinct
                        .iter()
                        .filter_map(|v| decode_attendance(v))
                        .collect();
                    if values.len() > 1 {
                        out.attendance.insert((meeting, member.clone()), values);
                    }
                } else if let Some(month) = parse_dues_key(&key) {
                    let values: Vec<Dues> =
                        distinct.iter().filter_map(|v| decode_dues(v)).collect();
                    if values.len() > 1 {
                        out.dues.insert((member.clone(), month), values);
                    }
                }
            }
        }
        out
    }

    fn check_meeting(&self, key: &MeetingKey) -> Result<(), LedgerError> {
        if key.date.year() != self.name.year {
            return Err(LedgerError::OutsideYear {
                meeting: *key,
                year: self.name.year,
            });
        }
        if key.n == 0 || key.n > MAX_SAME_DAY {
            return Err(LedgerError::MeetingNumber(*key));
        }
        Ok(())
    }
}

/// Checks kind, cell and year (and for an attachment book its member and home), and that the two maps
/// (and the `grant` map) are the genesis change's (one value each, made by the genesis actor); returns
/// the maps.
fn check(name: &LedgerName, doc: &Automerge) -> Result<([ObjId; 2], Option<ObjId>), LedgerError> {
    let (cell, year) = (&name.cell, name.year);
    let scalar = |key: &str| match doc.get(ROOT, key) {
        Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
        _ => None,
    };
    let text = |key: &str| match scalar(key) {
        Some(ScalarValue::Str(c)) => Some(c.to_string()),
        _ => None,
    };
    let kind = if name.attached.is_some() {
        ATTACHMENT_KIND
    } else {
        LEDGER_KIND
    };
    if text("kind").as_deref() != Some(kind) {
        return Err(LedgerError::NotALedger);
    }
    let found_cell = text("cell");
    let found_year = match scalar("year") {
        Some(ScalarValue::Int(y)) => Some(y),
        _ => None,
    };
    if found_cell.as_deref() != Some(cell.as_str()) || found_year != Some(i64::from(year)) {
        return Err(LedgerError::WrongLedger {
            cell: cell.to_string(),
            year,
            found_cell,
            found_year,
        });
    }
    if let Some(a) = &name.attached {
        if text("member") != Some(a.member.to_string())
            || text("home").as_deref() != Some(a.home.as_str())
        {
            return Err(LedgerError::NotALedger);
        }
    }
    let genesis = name.id().genesis_actor();
    let map = |key: &str| -> Result<ObjId, LedgerError> {
        let all = doc.get_all(ROOT, key)?;
        match all.as_slice() {
            [(Value::Object(ObjType::Map), obj @ ObjId::Id(_, actor, _))] if *actor == genesis => {
                Ok(obj.clone())
            }
            _ => Err(LedgerError::NotALedger),
        }
    };
    let grant = match name.attached {
        Some(_) => Some(map(GRANT)?),
        None => None,
    };
    Ok(([map(MEETINGS)?, map(MEMBERS)?], grant))
}

#[cfg(test)]
mod tests;
