//! The cell ledger (sổ sinh hoạt và đảng phí): one Automerge document per cell per calendar year holding
//! the meetings the cell held, who attended them, and each member's dues for each month (docs/BRIEF.md §3).
//!
//! The plain types ([`Ledger`], [`Meeting`], [`MeetingKind`], [`Attendance`], [`Dues`]) are what the rest
//! of the system reads (the screening rules take them as facts). [`LedgerDoc`] maps them to Automerge and
//! is the only place that knows the ledger's Automerge keys:
//!
//! - root: `kind` = [`LEDGER_KIND`], `cell` (the unit path), `year` (an integer), and three maps;
//! - `meetings`: [`MeetingKey`] text (`2025-03-11/regular`, `2025-03-11/regular-2`) → the topic;
//! - `attendance`: `<meeting key>/<member id>` → an attendance code;
//! - `dues`: `<member id>/<MM>` (`01`..`12`) → a dues code.
//!
//! Every value is a scalar under a flat key, so no later edit ever creates an object: two nodes recording
//! the same meeting, or filling in different members of the same sheet, only put scalars into the three
//! maps and merge without losing anything. The three maps themselves come from the **genesis change**
//! ([`LedgerDoc::genesis`]), built with an actor derived from the [`LedgerId`] and time 0, so every node
//! that creates the ledger of cell X for year Y produces the same change, byte for byte, with the same
//! hash: independent creations are one change, not rival root objects.
//!
//! Codes (short, so a year of a 40-member cell stays well under 1 KB per member on disk):
//! attendance `p` (present), `a+` / `a-` (absent, reason accepted / not accepted), each optionally
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

mod codes;
mod edit;
mod ident;
mod view;

#[allow(unused_imports)]
use codes::*;
pub use edit::*;
pub use ident::*;
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
const ATTENDANCE: &str = "attendance";
const DUES: &str = "dues";
const RATINGS: &str = "ratings";
const HELP: &str = "help";

/// A loaded cell ledger.
#[derive(Debug, Clone)]
pub struct LedgerDoc {
    id: LedgerId,
    cell: UnitPath,
    year: i32,
    doc: Automerge,
    meetings: ObjId,
    attendance: ObjId,
    dues: ObjId,
    ratings: ObjId,
    help: ObjId,
}

impl LedgerDoc {
    /// The ledger of `cell` for `year` as created by its genesis change, and that change. The change is
    /// the same bytes at every node (actor [`LedgerId::genesis_actor`], time 0, fixed message and
    /// operations), so independent creations are one change with one hash; every edit is made on top of
    /// it by the editing node's own actor.
    pub fn genesis(cell: &UnitPath, year: i32) -> Result<(LedgerDoc, Change), LedgerError> {
        if !YEARS.contains(&year) {
            return Err(LedgerError::Year(year));
        }
        let id = LedgerId::of(cell, year);
        let mut doc = Automerge::new().with_actor(id.genesis_actor());
        doc.transact_with::<_, _, AutomergeError, _>(
            |_| {
                CommitOptions::default()
                    .with_message(GENESIS_MESSAGE)
                    .with_time(0)
            },
            |tx| {
                tx.put(ROOT, "kind", LEDGER_KIND)?;
                tx.put(ROOT, "cell", cell.as_str())?;
                tx.put(ROOT, "year", i64::from(year))?;
                tx.put_object(ROOT, MEETINGS, ObjType::Map)?;
                tx.put_object(ROOT, ATTENDANCE, ObjType::Map)?;
                tx.put_object(ROOT, DUES, ObjType::Map)?;
                tx.put_object(ROOT, RATINGS, ObjType::Map)?;
                tx.put_object(ROOT, HELP, ObjType::Map)?;
                Ok(())
            },
        )
        .map_err(|f| f.error)?;
        let change = doc.get_last_local_change().ok_or(LedgerError::NotALedger)?;
        Ok((LedgerDoc::from_doc(cell, year, doc)?, change))
    }

    /// Wraps a document after checking that it is the ledger of `cell` for `year`, grown from its
    /// genesis change.
    pub fn from_doc(cell: &UnitPath, year: i32, doc: Automerge) -> Result<LedgerDoc, LedgerError> {
        let id = LedgerId::of(cell, year);
        let [meetings, attendance, dues, ratings, help] = check(id, cell, year, &doc)?;
        Ok(LedgerDoc {
            id,
            cell: cell.clone(),
            year,
            doc,
            meetings,
            attendance,
            dues,
            ratings,
            help,
        })
    }

    /// Loads a saved document and checks it is the ledger of `cell` for `year`.
    pub fn load(cell: &UnitPath, year: i32, bytes: &[u8]) -> Result<LedgerDoc, LedgerError> {
        Self::from_doc(cell, year, Automerge::load(bytes)?)
    }

    /// The plain view of a document that should be the ledger of `cell` for `year`, without taking
    /// ownership of it.
    pub fn ledger_of(cell: &UnitPath, year: i32, doc: &Automerge) -> Result<Ledger, LedgerError> {
        let id = LedgerId::of(cell, year);
        let maps = check(id, cell, year, doc)?;
        Ok(read(doc, cell, year, &maps))
    }

    /// The document id.
    pub fn id(&self) -> LedgerId {
        self.id
    }

    /// The cell keeping the ledger.
    pub fn cell(&self) -> &UnitPath {
        &self.cell
    }

    /// The calendar year.
    pub fn year(&self) -> i32 {
        self.year
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
            .filter(|k| k.date.year() == self.year)
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
        // Validate everything first, turning the edit into (map, key, value) puts and (map, key) deletes.
        let mut puts: Vec<(ObjId, String, String)> = Vec::new();
        let mut deletes: Vec<(ObjId, String)> = Vec::new();
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
            puts.push((
                self.attendance.clone(),
                attendance_key(meeting, member),
                encode_attendance(a)?,
            ));
        }
        for ((member, month), d) in &edit.dues {
            check_month(*month)?;
            if edit.cleared_dues.contains(&(*member, *month)) {
                return Err(LedgerError::SetAndCleared {
                    member: *member,
                    month: *month,
                });
            }
            puts.push((self.dues.clone(), dues_key(member, *month), encode_dues(d)?));
        }
        for (member, month) in &edit.cleared_dues {
            check_month(*month)?;
            deletes.push((self.dues.clone(), dues_key(member, *month)));
        }
        for (member, rating) in &edit.ratings {
            puts.push((
                self.ratings.clone(),
                member.to_string(),
                rating.key().to_string(),
            ));
        }
        for ((member, entry), note) in &edit.help {
            if entry.date().year() != self.year {
                return Err(LedgerError::HelpOutsideYear {
                    date: entry.date(),
                    year: self.year,
                });
            }
            let value = match entry {
                HelpEntry::Note(_) => clean_text("note", note)?,
                _ => "1".to_string(),
            };
            puts.push((self.help.clone(), help_key(member, *entry), value));
        }
        // Keep only what changes something: a put whose value is already the only value, or a delete of
        // an absent key, is dropped.
        puts.retain(|(obj, key, value)| {
            let all = self.doc.get_all(obj, key.as_str()).unwrap_or_default();
            all.is_empty() || all.iter().any(|(v, _)| v.as_str() != Some(value.as_str()))
        });
        deletes.retain(|(obj, key)| matches!(self.doc.get(obj, key.as_str()), Ok(Some(_))));
        if puts.is_empty() && deletes.is_empty() {
            return Ok(None);
        }
        let message = format!(
            "{} {}: {}",
            self.cell,
            self.year,
            edit_message(&self.maps(), &puts, deletes.len())
        );
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
                    for (obj, key) in &deletes {
                        tx.delete(obj, key.as_str())?;
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
        read(&self.doc, &self.cell, self.year, &self.maps())
    }

    fn maps(&self) -> [ObjId; 5] {
        [
            self.meetings.clone(),
            self.attendance.clone(),
            self.dues.clone(),
            self.ratings.clone(),
            self.help.clone(),
        ]
    }

    /// Every topic, attendance and member-month holding concurrent different values.
    pub fn conflicts(&self) -> LedgerConflicts {
        let mut out = LedgerConflicts::default();
        for (key, values) in conflicted(&self.doc, &self.meetings) {
            if let Ok(m) = key.parse::<MeetingKey>() {
                out.topics.insert(m, values);
            }
        }
        for (key, values) in conflicted(&self.doc, &self.attendance) {
            let Some((meeting, member)) = parse_attendance_key(&key) else {
                continue;
            };
            let values: Vec<Attendance> =
                values.iter().filter_map(|v| decode_attendance(v)).collect();
            if values.len() > 1 {
                out.attendance.insert((meeting, member), values);
            }
        }
        for (key, values) in conflicted(&self.doc, &self.dues) {
            let Some((member, month)) = parse_dues_key(&key) else {
                continue;
            };
            let values: Vec<Dues> = values.iter().filter_map(|v| decode_dues(v)).collect();
            if values.len() > 1 {
                out.dues.insert((member, month), values);
            }
        }
        out
    }

    fn check_meeting(&self, key: &MeetingKey) -> Result<(), LedgerError> {
        if key.date.year() != self.year {
            return Err(LedgerError::OutsideYear {
                meeting: *key,
                year: self.year,
            });
        }
        if key.n == 0 || key.n > MAX_SAME_DAY {
            return Err(LedgerError::MeetingNumber(*key));
        }
        Ok(())
    }
}

/// Checks kind, cell and year, and that the five maps are the genesis change's (one value each, made by
/// the genesis actor); returns the maps.
fn check(
    id: LedgerId,
    cell: &UnitPath,
    year: i32,
    doc: &Automerge,
) -> Result<[ObjId; 5], LedgerError> {
    let scalar = |key: &str| match doc.get(ROOT, key) {
        Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
        _ => None,
    };
    if !matches!(scalar("kind"), Some(ScalarValue::Str(k)) if k.as_str() == LEDGER_KIND) {
        return Err(LedgerError::NotALedger);
    }
    let found_cell = match scalar("cell") {
        Some(ScalarValue::Str(c)) => Some(c.to_string()),
        _ => None,
    };
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
    let genesis = id.genesis_actor();
    let map = |key: &str| -> Result<ObjId, LedgerError> {
        let all = doc.get_all(ROOT, key)?;
        match all.as_slice() {
            [(Value::Object(ObjType::Map), obj @ ObjId::Id(_, actor, _))] if *actor == genesis => {
                Ok(obj.clone())
            }
            _ => Err(LedgerError::NotALedger),
        }
    };
    Ok([
        map(MEETINGS)?,
        map(ATTENDANCE)?,
        map(DUES)?,
        map(RATINGS)?,
        map(HELP)?,
    ])
}

fn read(doc: &Automerge, cell: &UnitPath, year: i32, maps: &[ObjId; 5]) -> Ledger {
    let [meetings_obj, attendance_obj, dues_obj, ratings_obj, help_obj] = maps;
    let mut meetings: BTreeMap<MeetingKey, Meeting> = BTreeMap::new();
    let blank = |key: &MeetingKey| Meeting {
        date: key.date,
        kind: key.kind,
        topic: String::new(),
        attendance: BTreeMap::new(),
    };
    for item in doc.map_range(meetings_obj, ..) {
        let Ok(key) = item.key.parse::<MeetingKey>() else {
            continue;
        };
        if key.date.year() != year {
            continue;
        }
        let topic = str_of(&item.value).unwrap_or_default().to_string();
        meetings.entry(key).or_insert_with(|| blank(&key)).topic = topic;
    }
    for item in doc.map_range(attendance_obj, ..) {
        let Some((key, member)) = parse_attendance_key(&item.key) else {
            continue;
        };
        if key.date.year() != year {
            continue;
        }
        let Some(a) = str_of(&item.value).and_then(decode_attendance) else {
            continue;
        };
        // Attendance always follows its meeting; a key without one still names the date and kind.
        meetings
            .entry(key)
            .or_insert_with(|| blank(&key))
            .attendance
            .insert(member, a);
    }
    let mut dues: BTreeMap<String, BTreeMap<u32, Dues>> = BTreeMap::new();
    for item in doc.map_range(dues_obj, ..) {
        let Some((member, month)) = parse_dues_key(&item.key) else {
            continue;
        };
        let Some(d) = str_of(&item.value).and_then(decode_dues) else {
            continue;
        };
        dues.entry(member).or_default().insert(month, d);
    }
    let mut ratings = BTreeMap::new();
    for item in doc.map_range(ratings_obj, ..) {
        let (Some(member), Some(r)) = (
            canonical_member(&item.key),
            str_of(&item.value).and_then(|v| Rating::ALL.iter().find(|r| r.key() == v)),
        ) else {
            continue;
        };
        ratings.insert(member, *r);
    }
    let mut help: BTreeMap<String, HelpRecord> = BTreeMap::new();
    for item in doc.map_range(help_obj, ..) {
        let Some((member, entry)) = parse_help_key(&item.key) else {
            continue;
        };
        if entry.date().year() != year {
            continue;
        }
        let Some(value) = str_of(&item.value) else {
            continue;
        };
        let rec = help.entry(member).or_default();
        match entry {
            HelpEntry::Start(d) => rec.start = Some(d),
            HelpEntry::End(d) => rec.end = Some(d),
            HelpEntry::Note(d) => {
                rec.notes.insert(d, value.to_string());
            }
        }
    }
    Ledger {
        cell: cell.to_string(),
        year,
        meetings: meetings.into_values().collect(),
        dues,
        ratings,
        help,
    }
}

/// Keys of `obj` holding more than one distinct string, with the distinct values, the winner first.
fn conflicted(doc: &Automerge, obj: &ObjId) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for item in doc.map_range(obj, ..) {
        if !item.conflict {
            continue;
        }
        let Some(winner) = str_of(&item.value) else {
            continue;
        };
        let mut values = vec![winner.to_string()];
        for (v, _) in doc.get_all(obj, item.key.as_ref()).unwrap_or_default() {
            if let Some(s) = v.as_str() {
                if !values.iter().any(|x| x == s) {
                    values.push(s.to_string());
                }
            }
        }
        if values.len() > 1 {
            out.push((item.key.to_string(), values));
        }
    }
    out
}

fn str_of<'a>(v: &'a ValueRef<'_>) -> Option<&'a str> {
    match v {
        ValueRef::Scalar(ScalarValueRef::Str(s)) => Some(s.as_ref()),
        _ => None,
    }
}

fn edit_message(maps: &[ObjId; 5], puts: &[(ObjId, String, String)], cleared: usize) -> String {
    let [meetings, attendance, dues_obj, ratings, help] = maps;
    let mut parts = Vec::new();
    let recorded: Vec<&str> = puts
        .iter()
        .filter(|(o, _, _)| o == meetings)
        .map(|(_, k, _)| k.as_str())
        .collect();
    if !recorded.is_empty() {
        parts.push(format!("meeting {}", recorded.join(" ")));
    }
    let att = puts.iter().filter(|(o, _, _)| o == attendance).count();
    if att > 0 {
        parts.push(format!("attendance {att}"));
    }
    for (obj, what) in [
        (dues_obj, "dues"),
        (ratings, "ratings"),
        (help, "help list"),
    ] {
        let n = puts.iter().filter(|(o, _, _)| o == obj).count();
        if n > 0 {
            parts.push(format!("{what} {n}"));
        }
    }
    if cleared > 0 {
        parts.push(format!("cleared {cleared}"));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests;
