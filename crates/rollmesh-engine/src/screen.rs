//! Screening at a node: the facts of its scope (member records, the cells they belong to, the cells'
//! ledgers) handed to the pure rule engine (`rollmesh-rules`) with a rule set, a calendar and an
//! evaluation date. Every node runs the same evaluation over what it holds, so a ward's flags are the
//! union of its cells' flags on the same data, and the city's the union of all.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use rollmesh_model::member::parse_date;
use rollmesh_model::{Field, MemberRecord, Status, UnitPath};
use rollmesh_rules::{
    evaluate, Calendar, CellFacts, Flag, HelpListEntry, Ledger, MemberFacts, RuleSet,
};

use crate::node::Node;
use crate::NodeError;

/// The facts a screening reads, gathered from one node's store over one subtree.
#[derive(Debug, Clone, Default)]
pub struct ScreenFacts {
    /// Every member of the subtree.
    pub members: Vec<MemberFacts>,
    /// The cells of those members and of the ledgers.
    pub cells: Vec<CellFacts>,
    /// The ledgers of the subtree's cells.
    pub ledgers: Vec<Ledger>,
}

/// What the rules know of a member from its dossier. A member without a recorded status is taken as
/// official (the status every imported register starts with).
pub fn member_facts(r: &MemberRecord) -> Option<MemberFacts> {
    let cell = r.unit()?;
    let status = r.status().unwrap_or(Status::Official);
    let mut m = MemberFacts::new(&r.id.to_string(), cell.as_str(), status);
    m.admitted = r.get(Field::AdmissionDate).and_then(parse_date);
    // Wards are compared as folded text, so "Phường Điện Biên" and "phuong dien bien" are one ward.
    m.residence_ward = r
        .get(Field::ResidenceWard)
        .map(rollmesh_model::text::fold)
        .filter(|w| !w.is_empty());
    if r.events
        .iter()
        .any(|e| e.kind == rollmesh_model::EventKind::CaseStep)
    {
        if let Ok(steps) = rollmesh_model::case::steps_of(&r.events) {
            m.cases = rollmesh_model::case::cases_of(steps);
            // An official transfer under way: R14 leaves the member to R10.
            m.transfer_in_progress = m.cases.iter().any(|c| {
                c.key.kind == rollmesh_model::case::CaseKind::Transfer
                    && matches!(c.state(), rollmesh_model::case::CaseState::Open { .. })
            });
        }
    }
    Some(m)
}

/// Sets each member's temporary attachment from the attachment books held (the grant of the latest
/// one to start; a multi-year attachment repeats the same grant in each year's book).
pub fn add_attachments(members: &mut [MemberFacts], books: &[rollmesh_store::LedgerHead]) {
    use rollmesh_model::ledger::AttachReason;
    use rollmesh_rules::{Attachment, AttachmentReason};
    let mut latest: std::collections::HashMap<String, Attachment> = Default::default();
    for h in books {
        let (Some(a), Some(g)) = (&h.attached, &h.grant) else {
            continue;
        };
        let att = Attachment {
            host_cell: h.cell.to_string(),
            start: g.from,
            end: g.until,
            reason: match g.reason {
                AttachReason::Work => AttachmentReason::Work,
                AttachReason::Study => AttachmentReason::Study,
            },
        };
        let slot = latest
            .entry(a.member.to_string())
            .or_insert_with(|| att.clone());
        if (att.start, &att.host_cell) > (slot.start, &slot.host_cell) {
            *slot = att;
        }
    }
    for m in members.iter_mut() {
        if let Some(a) = latest.remove(&m.id) {
            m.temporary = Some(a);
        }
    }
}

/// Today in Vietnam (UTC+7), the default evaluation date: a clerk's "today" does not change at 07:00.
pub fn today_in_vietnam() -> NaiveDate {
    let now = chrono::Utc::now();
    chrono::FixedOffset::east_opt(7 * 3600)
        .map(|vn| now.with_timezone(&vn).date_naive())
        .unwrap_or_else(|| now.date_naive())
}

/// The rule set a node screens with until the city's rule-set document reaches it: the shipped
/// defaults (docs/RULES.md).
pub fn default_rules() -> RuleSet {
    RuleSet::default()
}

/// The working-day calendar: Vietnam's public holidays for the years the shipped table covers.
pub fn default_calendar() -> Calendar {
    let years = rollmesh_rules::VIETNAM_TABLE
        .iter()
        .map(|y| y.year)
        .collect::<BTreeSet<_>>();
    match (years.first(), years.last()) {
        (Some(a), Some(b)) => Calendar::vietnam(*a..=*b).unwrap_or_default(),
        _ => Calendar::default(),
    }
}

/// The ledgers with another cell's entries about a member kept only where the member's own (current)
/// cell's book of that year says nothing: the months, meetings' months, year's rating and help list the
/// own cell did not record. So a transferred member keeps the history their old cell recorded (the new
/// cell's book has nothing for those months), while what a cell writes about another cell's member
/// cannot override what that member's own cell recorded. (It can still fill a gap the own cell left;
/// telling a legitimate old cell from a meddling one needs the member's unit at each date — noted in
/// docs/RULES.md §7 with attachments.)
pub fn keep_own_members(ledgers: Vec<Ledger>, members: &[MemberFacts]) -> Vec<Ledger> {
    use chrono::Datelike;
    use std::collections::{HashMap, HashSet};
    let cell_of: HashMap<&str, &str> = members
        .iter()
        .map(|m| (m.id.as_str(), m.cell.as_str()))
        .collect();
    let own = |id: &str, cell: &str| cell_of.get(id) == Some(&cell);
    // Only members some other cell's book names need the comparison: find them first, so a scope
    // where every book keeps only its own members (the usual case) costs one pass and no copies.
    let mut foreign: HashSet<&str> = HashSet::new();
    for l in &ledgers {
        for id in l.member_ids() {
            if !own(id, &l.cell) {
                foreign.insert(id.as_str());
            }
        }
    }
    if foreign.is_empty() {
        return ledgers;
    }
    // What each such member's own cell recorded, by (member, year, month) and (member, year).
    let mut dues: HashSet<(&str, i32, u32)> = HashSet::new();
    let mut attended: HashSet<(&str, i32, u32)> = HashSet::new();
    let mut rated: HashSet<(&str, i32)> = HashSet::new();
    let mut listed: HashSet<&str> = HashSet::new();
    let watched = |id: &str, cell: &str| foreign.contains(id) && own(id, cell);
    for l in &ledgers {
        for (id, months) in &l.dues {
            if watched(id, &l.cell) {
                dues.extend(months.keys().map(|m| (id.as_str(), l.year, *m)));
            }
        }
        for m in &l.meetings {
            for id in m.attendance.keys().filter(|id| watched(id, &l.cell)) {
                attended.insert((id.as_str(), l.year, m.date.month()));
            }
        }
        for id in l.ratings.keys().filter(|id| watched(id, &l.cell)) {
            rated.insert((id.as_str(), l.year));
        }
        for id in l.help.keys().filter(|id| watched(id, &l.cell)) {
            listed.insert(id.as_str());
        }
    }
    // The sets borrow from `ledgers`: decide what to drop first, then drop it.
    type Drops = (
        Vec<(usize, String)>,
        Vec<(String, u32)>,
        Vec<String>,
        Vec<String>,
    );
    let drops: Vec<Drops> = ledgers
        .iter()
        .map(|l| {
            let (cell, year) = (l.cell.as_str(), l.year);
            let mine = |id: &String| own(id, cell);
            let mut d: Drops = Default::default();
            for (i, m) in l.meetings.iter().enumerate() {
                let month = m.date.month();
                for id in m.attendance.keys() {
                    if !mine(id) && attended.contains(&(id.as_str(), year, month)) {
                        d.0.push((i, id.clone()));
                    }
                }
            }
            for (id, months) in &l.dues {
                if !mine(id) {
                    for m in months.keys() {
                        if dues.contains(&(id.as_str(), year, *m)) {
                            d.1.push((id.clone(), *m));
                        }
                    }
                }
            }
            for id in l.ratings.keys() {
                if !mine(id) && rated.contains(&(id.as_str(), year)) {
                    d.2.push(id.clone());
                }
            }
            for id in l.help.keys() {
                if !mine(id) && listed.contains(id.as_str()) {
                    d.3.push(id.clone());
                }
            }
            d
        })
        .collect();
    ledgers
        .into_iter()
        .zip(drops)
        .map(|(mut l, (att, due, rat, help))| {
            for (i, id) in att {
                l.meetings[i].attendance.remove(&id);
            }
            for (id, m) in due {
                if let Some(months) = l.dues.get_mut(&id) {
                    months.remove(&m);
                }
            }
            l.dues.retain(|_, months| !months.is_empty());
            for id in rat {
                l.ratings.remove(&id);
            }
            for id in help {
                l.help.remove(&id);
            }
            l
        })
        .collect()
}

/// The entries of `l` about members of other cells, as copies of `l` holding only each other cell's
/// members' entries, by that cell.
fn foreign_parts(
    l: &Ledger,
    cell_of: &std::collections::HashMap<String, String>,
) -> Vec<(String, Ledger)> {
    let other = |id: &String| cell_of.get(id).filter(|c| **c != l.cell).cloned();
    let mut cells: BTreeSet<String> = BTreeSet::new();
    cells.extend(l.dues.keys().filter_map(&other));
    cells.extend(l.ratings.keys().filter_map(&other));
    cells.extend(l.help.keys().filter_map(&other));
    for m in &l.meetings {
        cells.extend(m.attendance.keys().filter_map(&other));
    }
    cells
        .into_iter()
        .map(|cell| {
            let theirs = |id: &String| cell_of.get(id) == Some(&cell);
            let mut part = Ledger::new(&l.cell, l.year);
            part.dues = l
                .dues
                .iter()
                .filter(|(id, _)| theirs(id))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            part.ratings = l
                .ratings
                .iter()
                .filter(|(id, _)| theirs(id))
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            part.help = l
                .help
                .iter()
                .filter(|(id, _)| theirs(id))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            part.meetings = l
                .meetings
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    m.attendance.retain(|id, _| theirs(id));
                    m
                })
                .filter(|m| !m.attendance.is_empty())
                .collect();
            (cell, part)
        })
        .collect()
}

/// What the ledgers say about each member beyond meetings and dues: the ratings by year, and the
/// member's place on the educate-and-help list (the latest start, unless an end on or after it took the
/// member off, with the progress noted since).
pub fn add_ledger_facts(members: &mut [MemberFacts], ledgers: &[Ledger]) {
    let by_id: std::collections::HashMap<String, usize> = members
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.clone(), i))
        .collect();
    let mut starts: Vec<Option<NaiveDate>> = vec![None; members.len()];
    let mut ends: Vec<Option<NaiveDate>> = vec![None; members.len()];
    let mut notes: Vec<Vec<(NaiveDate, String)>> = vec![Vec::new(); members.len()];
    for l in ledgers {
        for (id, r) in &l.ratings {
            if let Some(&i) = by_id.get(id) {
                members[i].ratings.insert(l.year, *r);
            }
        }
        for (id, h) in &l.help {
            let Some(&i) = by_id.get(id) else {
                continue;
            };
            starts[i] = starts[i].max(h.start);
            ends[i] = ends[i].max(h.end);
            notes[i].extend(h.notes.iter().map(|(d, n)| (*d, n.clone())));
        }
    }
    for (i, m) in members.iter_mut().enumerate() {
        let Some(start) = starts[i] else { continue };
        if ends[i].is_some_and(|e| e >= start) {
            continue;
        }
        let mut progress: Vec<(NaiveDate, String)> = notes[i]
            .iter()
            .filter(|(d, _)| *d >= start)
            .cloned()
            .collect();
        progress.sort();
        m.help = Some(HelpListEntry { start, progress });
    }
}

/// A whole-scope screening as computed and kept by [`Node::screen_run`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Screening {
    /// The evaluation date.
    pub as_of: NaiveDate,
    /// Unix time it was computed.
    pub computed_at: i64,
    /// The store's last log sequence number then: the data it read.
    pub log_seq: u64,
    /// The effective date of the city's rule set used (`None`: the shipped defaults).
    pub rules_effective: Option<NaiveDate>,
    /// Every flag over the node's whole scope.
    pub flags: Vec<Flag>,
}

const SCREENING: &str = "screening";

/// A flag that is not raised today but will be by `due` if nothing more is recorded (a month ends with
/// its dues or a meeting still missing, time on the help list runs out).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deadline {
    /// The first day the flag is raised.
    pub due: NaiveDate,
    /// The flag as it will read then.
    pub flag: Flag,
}

/// The day a flag raised by a later evaluation is first raised: the day after the last month it counts
/// (R1, R2, R11), the help list's due day (R4); `None` for the others, which do not depend on time.
fn due_day(f: &Flag) -> Option<NaiveDate> {
    use rollmesh_rules::Evidence;
    match &f.evidence {
        Evidence::Dues {
            counted_through, ..
        }
        | Evidence::Attendance {
            counted_through, ..
        }
        | Evidence::Meetings {
            counted_through, ..
        } => counted_through.succ_opt(),
        Evidence::HelpList { due, .. } => Some(*due),
        Evidence::Probation {
            ends,
            review_by,
            confirm_by,
            overdue,
            ..
        } => match (overdue, confirm_by) {
            (false, None) => Some(*ends),
            (false, Some(by)) | (true, Some(by)) => Some(*by),
            (true, None) => Some(*review_by),
        },
        // The deadline itself, as the explanation names it (the flag is raised the day after).
        Evidence::Admission { due, .. } | Evidence::Transfer { due, .. } => Some(*due),
        _ => None,
    }
}

impl Node {
    /// Evaluates the rules in force on `as_of` over the node's whole scope and keeps the result, so
    /// that listing flags does not evaluate again while nothing changed.
    pub fn screen_run(&self, as_of: NaiveDate) -> Result<Screening, NodeError> {
        let log_seq = self.store.last_seq();
        let (rules, source) = self.rule_set(as_of)?;
        let flags = self.screen(&rules, &self.calendar()?, as_of, None)?;
        let s = Screening {
            as_of,
            computed_at: crate::node::now(),
            log_seq,
            rules_effective: match source {
                crate::orgdocs::RulesSource::Published(d) => Some(d),
                crate::orgdocs::RulesSource::Default => None,
            },
            flags,
        };
        let bytes = serde_json::to_vec(&s).map_err(|e| NodeError::Internal(e.to_string()))?;
        self.store.put_local(SCREENING, &bytes)?;
        Ok(s)
    }

    /// The flags that will be raised within `days` after `as_of` if nothing more is recorded: the
    /// screening at the horizon less today's, each with the day it is first raised. Missing entries in a
    /// ledger the node holds count against the member once their month ends, so this is the clerk's list
    /// of what to record (or excuse) before it is due.
    pub fn deadlines(&self, as_of: NaiveDate, days: u32) -> Result<Vec<Deadline>, NodeError> {
        let horizon = as_of
            .checked_add_days(chrono::Days::new(u64::from(days)))
            .unwrap_or(as_of);
        let today = self.screening(as_of)?;
        let (rules, _) = self.rule_set(horizon)?;
        let later = self.screen(&rules, &self.calendar()?, horizon, None)?;
        let key = |f: &Flag| (f.rule, f.subject.clone(), f.year);
        let now: BTreeSet<_> = today.flags.iter().map(key).collect();
        let mut out: Vec<Deadline> = later
            .into_iter()
            .filter(|f| !now.contains(&key(f)))
            .filter_map(|flag| {
                let due = due_day(&flag)?;
                (due > as_of && due <= horizon).then_some(Deadline { due, flag })
            })
            .collect();
        out.sort_by(|a, b| (a.due, &a.flag).cmp(&(b.due, &b.flag)));
        Ok(out)
    }

    /// The kept screening for `as_of` if nothing was stored or changed since it ran, else a new run.
    pub fn screening(&self, as_of: NaiveDate) -> Result<Screening, NodeError> {
        if let Some(bytes) = self.store.get_local(SCREENING)? {
            if let Ok(s) = serde_json::from_slice::<Screening>(&bytes) {
                if s.as_of == as_of && s.log_seq == self.store.last_seq() {
                    return Ok(s);
                }
            }
        }
        self.screen_run(as_of)
    }

    /// The screening facts of `scope` (the node's whole scope when `None`).
    pub fn screen_facts(&self, scope: Option<&UnitPath>) -> Result<ScreenFacts, NodeError> {
        let scope = scope.unwrap_or(self.unit()).clone();
        self.check_scope(&scope)?;
        let members: Vec<MemberFacts> = self
            .store
            .projections(&scope, |r| member_facts(&r))?
            .into_iter()
            .flatten()
            .collect();
        let (books, mut attached): (Vec<_>, Vec<_>) = self
            .store
            .ledgers(Some(&scope))?
            .into_iter()
            .partition(|h| h.attached.is_none());
        let ledgers: Vec<Ledger> = books.into_iter().map(|h| h.ledger).collect();
        // Only the books granted by the member's own cell's side count: the grant's author covers the
        // book's home, so a home that is the member's cell means the member's own chain granted it. A
        // book naming another home (a cell posing as the member's) is held but never read.
        let home_of: std::collections::HashMap<&str, &str> = members
            .iter()
            .map(|m| (m.id.as_str(), m.cell.as_str()))
            .collect();
        attached.retain(|h| {
            h.attached.as_ref().is_some_and(|a| {
                home_of.get(a.member.to_string().as_str()) == Some(&a.home.as_str())
            })
        });
        drop(home_of);
        let mut members = members;
        add_attachments(&mut members, &attached);
        let mut ledgers = keep_own_members(ledgers, &members);
        let mut units: BTreeSet<String> = members.iter().map(|m| m.cell.clone()).collect();
        units.extend(ledgers.iter().map(|l| l.cell.clone()));
        // What hosts recorded for members attached to them (within each grant), after the members' own
        // cells' books: the rules read every book's entries for a member, so a payment at the host
        // counts, and the host's book counts as held for the attached months.
        ledgers.extend(attached.into_iter().map(|h| h.ledger));
        add_ledger_facts(&mut members, &ledgers);
        // The city's tree says which ward a residential cell serves.
        let tree = self.org_tree()?;
        let cells = units
            .into_iter()
            .map(|unit| {
                let admin_ward = tree
                    .as_ref()
                    .zip(UnitPath::parse(&unit).ok())
                    .and_then(|(t, p)| t.unit(&p).and_then(|u| u.admin_ward.clone()))
                    .map(|w| rollmesh_model::text::fold(&w))
                    .filter(|w| !w.is_empty());
                CellFacts { unit, admin_ward }
            })
            .collect();
        Ok(ScreenFacts {
            members,
            cells,
            ledgers,
        })
    }

    /// Evaluates `rules` over `scope` (the node's whole scope when `None`) as of `as_of`.
    pub fn screen(
        &self,
        rules: &RuleSet,
        calendar: &Calendar,
        as_of: NaiveDate,
        scope: Option<&UnitPath>,
    ) -> Result<Vec<Flag>, NodeError> {
        use rayon::prelude::*;
        use std::collections::BTreeMap;
        let f = self.screen_facts(scope)?;
        // A cell's flags depend only on its own members, facts and ledgers (the union property), so
        // cells are evaluated in independent groups on every core and the flags merged. The facts are
        // moved, not copied, into the groups.
        type Group = (Vec<MemberFacts>, Vec<CellFacts>, Vec<Ledger>);
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for m in f.members {
            groups.entry(m.cell.clone()).or_default().0.push(m);
        }
        for c in f.cells {
            groups.entry(c.unit.clone()).or_default().1.push(c);
        }
        // A member's entries in another cell's book (the old cell of a transferred member) go to the
        // member's group as well, as a copy of that book holding only those entries.
        let cell_of: std::collections::HashMap<String, String> = groups
            .iter()
            .flat_map(|(cell, (m, _, _))| m.iter().map(move |m| (m.id.clone(), cell.clone())))
            .collect();
        for l in f.ledgers {
            for (cell, part) in foreign_parts(&l, &cell_of) {
                groups.entry(cell).or_default().2.push(part);
            }
            groups.entry(l.cell.clone()).or_default().2.push(l);
        }
        let per = groups
            .len()
            .div_ceil(4 * rayon::current_num_threads())
            .max(1);
        let mut chunks: Vec<Group> = Vec::new();
        for (i, (_, (m, c, l))) in groups.into_iter().enumerate() {
            if i % per == 0 {
                chunks.push(Group::default());
            }
            if let Some(last) = chunks.last_mut() {
                last.0.extend(m);
                last.1.extend(c);
                last.2.extend(l);
            }
        }
        let parts = chunks
            .into_par_iter()
            .map(|(m, c, l)| evaluate(rules, calendar, &m, &c, &l, as_of))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| NodeError::Refused(e.to_string()))?;
        let mut flags: Vec<Flag> = parts.into_iter().flatten().collect();
        flags.sort();
        flags.dedup();
        Ok(flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollmesh_model::ledger::{Attendance, Dues, HelpRecord, Meeting, MeetingKind, Rating};
    use rollmesh_model::Status;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, m, day).expect("date")
    }

    fn paid(m: u32) -> Dues {
        Dues::Paid {
            amount: 30_000,
            date: d(m, 5),
        }
    }

    #[test]
    fn another_cells_book_fills_only_what_the_own_cell_left_blank() {
        let (a, b) = ("hn.d01.w01.c01", "hn.d01.w01.c02");
        let members = vec![
            MemberFacts::new("m1", a, Status::Official),
            MemberFacts::new("m2", b, Status::Official),
        ];
        let unpaid = Dues::Unpaid {
            reason: None,
            accepted: false,
        };
        let meeting = |month: u32, who: &str, att: Attendance| Meeting {
            date: d(month, 10),
            kind: MeetingKind::Regular,
            topic: String::new(),
            attendance: [(who.to_string(), att)].into(),
        };
        // m1's own cell A: March unpaid, present in March, rated, on the help list.
        let mut own = Ledger::new(a, 2025);
        own.dues.insert("m1".into(), [(3, unpaid.clone())].into());
        own.meetings.push(meeting(3, "m1", Attendance::Present));
        own.ratings.insert("m1".into(), Rating::Good);
        own.help.insert("m1".into(), HelpRecord::default());
        // Cell B writes about m1 too: March and April paid, absent in March and April, another
        // rating, a help entry; and its own member m2's book untouched.
        let mut other = Ledger::new(b, 2025);
        other
            .dues
            .insert("m1".into(), [(3, paid(3)), (4, paid(4))].into());
        other.dues.insert("m2".into(), [(3, unpaid.clone())].into());
        let absent = Attendance::Absent {
            reason: None,
            accepted: false,
        };
        other.meetings.push(meeting(3, "m1", absent.clone()));
        other.meetings.push(meeting(4, "m1", absent.clone()));
        other.ratings.insert("m1".into(), Rating::NotCompleted);
        other.help.insert("m1".into(), HelpRecord::default());
        let kept = keep_own_members(vec![own.clone(), other], &members);
        assert_eq!(kept[0], own, "the own cell's book is never cut");
        let b_book = &kept[1];
        assert_eq!(
            b_book.dues["m1"].keys().copied().collect::<Vec<_>>(),
            vec![4]
        );
        assert_eq!(b_book.dues["m2"].len(), 1);
        assert!(
            b_book.meetings[0].attendance.is_empty(),
            "March: A recorded it"
        );
        assert_eq!(
            b_book.meetings[1].attendance["m1"], absent,
            "April: A did not"
        );
        assert!(b_book.ratings.is_empty() && b_book.help.is_empty());
        // Books holding only their own members come back as they were.
        let alone = keep_own_members(vec![own.clone()], &members);
        assert_eq!(alone, vec![own]);
    }
}
