//! Attachment books: what a host cell records about a member temporarily attached to it (sinh hoạt tạm
//! thời), and the bounded write the home side grants for it.
//!
//! An attachment book is a ledger document named by (host, year, member, home) ([`LedgerName`]). Its
//! `grant` map — first day, last day, reason — is written by the home side; its meetings, attendance and
//! dues by the host, only about that member and only inside the granted period. A node checks both at
//! every change ([`attachment_diff`] says what a change touched), and a reader sees only the entries the
//! grant covers ([`within`]), so shortening an attachment withdraws the host's later entries everywhere.

use std::fmt;

#[allow(unused_imports)]
use super::*;

/// Why a member is attached to a host cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AttachReason {
    /// Work away from home (công tác).
    Work,
    /// Study (học tập), which may last longer.
    Study,
}

impl AttachReason {
    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            AttachReason::Work => "work",
            AttachReason::Study => "study",
        }
    }

    /// Parses a stored key.
    pub fn from_key(s: &str) -> Option<AttachReason> {
        match s {
            "work" => Some(AttachReason::Work),
            "study" => Some(AttachReason::Study),
            _ => None,
        }
    }
}

/// A temporary attachment as the home side granted it: the host may record the member's meetings and
/// dues from `from` to `until` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// First day at the host.
    pub from: NaiveDate,
    /// Last day at the host (inclusive).
    pub until: NaiveDate,
    /// Work or study.
    pub reason: AttachReason,
}

impl Grant {
    /// A grant, refused when it ends before it starts.
    pub fn new(
        from: NaiveDate,
        until: NaiveDate,
        reason: AttachReason,
    ) -> Result<Grant, LedgerError> {
        if until < from {
            return Err(LedgerError::GrantDates { from, until });
        }
        Ok(Grant {
            from,
            until,
            reason,
        })
    }

    /// Whether the day falls inside the attachment.
    pub fn covers_day(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.until
    }

    /// Whether any day of month `month` (1–12) of `year` falls inside the attachment.
    pub fn touches_month(&self, year: i32, month: u32) -> bool {
        let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
            return false;
        };
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        };
        let Some(last) = next.and_then(|n| n.pred_opt()) else {
            return false;
        };
        first <= self.until && self.from <= last
    }

    /// The stored (key, value) pairs.
    pub(super) fn entries(&self) -> [(&'static str, String); 3] {
        [
            ("from", self.from.format("%Y-%m-%d").to_string()),
            ("until", self.until.format("%Y-%m-%d").to_string()),
            ("reason", self.reason.key().to_string()),
        ]
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} – {} ({})",
            self.from.format("%d/%m/%Y"),
            self.until.format("%d/%m/%Y"),
            self.reason.key()
        )
    }
}

/// The grant stored in `obj` (Automerge's winner of each key), if complete and well-formed.
pub(super) fn read_grant(doc: &Automerge, obj: &ObjId) -> Option<Grant> {
    let get = |key: &str| match doc.get(obj, key) {
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(t) => Some(t.to_string()),
            _ => None,
        },
        _ => None,
    };
    let date = |key: &str| {
        let t = get(key)?;
        let d = NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok()?;
        (d.format("%Y-%m-%d").to_string() == t && YEARS.contains(&d.year())).then_some(d)
    };
    let reason = AttachReason::from_key(&get("reason")?)?;
    Grant::new(date("from")?, date("until")?, reason).ok()
}

/// The entries of an attachment book's raw view that its grant covers: the member's meetings (and
/// their attendance) dated inside it and dues of months it touches. Without a grant, nothing.
pub fn within(raw: Ledger, a: &Attached, grant: Option<Grant>) -> Ledger {
    let mut out = Ledger::new(&raw.cell, raw.year);
    let Some(g) = grant else {
        return out;
    };
    let member = a.member.to_string();
    for mut m in raw.meetings {
        if g.covers_day(m.date) {
            m.attendance.retain(|id, _| *id == member);
            out.meetings.push(m);
        }
    }
    if let Some(months) = raw.dues.get(&member) {
        let kept: BTreeMap<u32, Dues> = months
            .iter()
            .filter(|(month, _)| g.touches_month(raw.year, **month))
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        if !kept.is_empty() {
            out.dues.insert(member, kept);
        }
    }
    out
}

/// Checks an edit of the attachment book of `a` against the grant it will be under: entries only
/// about the member, dated inside the grant; no ratings or help-list entries (the home cell keeps
/// those).
pub(super) fn check_edit(
    edit: &LedgerEdit,
    a: &Attached,
    year: i32,
    grant: Option<Grant>,
) -> Result<(), LedgerError> {
    let outside = |what: String| LedgerError::OutsideAttachment(what);
    let member = |m: &MemberId| {
        if *m == a.member {
            Ok(())
        } else {
            Err(LedgerError::NotAttached {
                book: a.member,
                member: *m,
            })
        }
    };
    if !edit.ratings.is_empty() {
        return Err(outside("a rating".into()));
    }
    if !edit.help.is_empty() {
        return Err(outside("an educate-and-help list entry".into()));
    }
    for (_, m) in edit.attendance.keys() {
        member(m)?;
    }
    for (m, _) in edit.dues.keys().chain(edit.cleared_dues.iter()) {
        member(m)?;
    }
    let entries = !edit.meetings.is_empty()
        || !edit.attendance.is_empty()
        || !edit.dues.is_empty()
        || !edit.cleared_dues.is_empty();
    if !entries {
        return Ok(());
    }
    let Some(g) = grant else {
        return Err(outside("every entry (no attachment is recorded)".into()));
    };
    for key in edit
        .meetings
        .keys()
        .chain(edit.attendance.keys().map(|(k, _)| k))
    {
        if !g.covers_day(key.date) {
            return Err(outside(format!(
                "the meeting of {}",
                key.date.format("%d/%m/%Y")
            )));
        }
    }
    for (_, month) in edit.dues.keys().chain(edit.cleared_dues.iter()) {
        if !g.touches_month(year, *month) {
            return Err(outside(format!("the dues of {month:02}/{year}")));
        }
    }
    Ok(())
}

/// What one change did to an attachment book, for the authority check of whoever receives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachmentDiff {
    /// The grant's stored values changed (the home side's part).
    pub grant: bool,
    /// Meetings, attendance, dues, ratings or help entries changed (the host's part).
    pub entries: bool,
    /// Entries the change wrote that the grant after it does not allow, described.
    pub outside: Vec<String>,
}

/// Compares the attachment book `name` before and after a change (`before` the document at the
/// change's dependencies, `after` the same with the change applied): which part it touched, and which
/// written entries fall outside the grant or are about another member.
pub fn attachment_diff(
    name: &LedgerName,
    before: &Automerge,
    after: &Automerge,
) -> Result<AttachmentDiff, LedgerError> {
    let a = name
        .attached
        .as_ref()
        .ok_or(LedgerError::NotAnAttachmentBook)?;
    let (maps_b, grant_b) = check(name, before)?;
    let (maps_a, grant_a) = check(name, after)?;
    let raw_grant = |doc: &Automerge, obj: &Option<ObjId>| -> Vec<(String, Vec<String>)> {
        let Some(obj) = obj else { return Vec::new() };
        ["from", "until", "reason"]
            .iter()
            .map(|k| {
                let mut vals: Vec<String> = doc
                    .get_all(obj, *k)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|(v, _)| v.as_str().map(str::to_string))
                    .collect();
                vals.sort();
                (k.to_string(), vals)
            })
            .collect()
    };
    let mut diff = AttachmentDiff {
        grant: raw_grant(before, &grant_b) != raw_grant(after, &grant_a),
        ..AttachmentDiff::default()
    };
    let old = read(before, &name.cell, name.year, &maps_b);
    let new = read(after, &name.cell, name.year, &maps_a);
    if old == new {
        return Ok(diff);
    }
    diff.entries = true;
    let grant = grant_a.and_then(|g| read_grant(after, &g));
    let member = a.member.to_string();
    let allowed_day = |d: NaiveDate| grant.is_some_and(|g| g.covers_day(d));
    let old_meetings: BTreeMap<(NaiveDate, MeetingKind), &Meeting> =
        old.meetings.iter().map(|m| ((m.date, m.kind), m)).collect();
    let new_keys: std::collections::BTreeSet<(NaiveDate, MeetingKind)> =
        new.meetings.iter().map(|m| (m.date, m.kind)).collect();
    for m in &new.meetings {
        let before = old_meetings.get(&(m.date, m.kind));
        if before.is_some_and(|b| *b == m) {
            continue;
        }
        if !allowed_day(m.date) {
            diff.outside
                .push(format!("the meeting of {}", m.date.format("%d/%m/%Y")));
        }
        let others = m.attendance.iter().filter(|(id, a)| {
            **id != member && before.is_none_or(|b| b.attendance.get(*id) != Some(*a))
        });
        if let Some((id, _)) = others.into_iter().next() {
            diff.outside.push(format!("attendance of {id}"));
        }
    }
    for m in &old.meetings {
        if !new_keys.contains(&(m.date, m.kind)) && !allowed_day(m.date) {
            diff.outside
                .push(format!("the meeting of {}", m.date.format("%d/%m/%Y")));
        }
    }
    let ids: std::collections::BTreeSet<&String> = old.dues.keys().chain(new.dues.keys()).collect();
    for id in ids {
        let (o, n) = (old.dues.get(id), new.dues.get(id));
        if o == n {
            continue;
        }
        if *id != member {
            diff.outside.push(format!("dues of {id}"));
            continue;
        }
        let months: std::collections::BTreeSet<u32> = o
            .into_iter()
            .chain(n)
            .flat_map(|m| m.keys().copied())
            .collect();
        for month in months {
            if o.and_then(|x| x.get(&month)) != n.and_then(|x| x.get(&month))
                && !grant.is_some_and(|g| g.touches_month(name.year, month))
            {
                diff.outside
                    .push(format!("the dues of {month:02}/{}", name.year));
            }
        }
    }
    if old.ratings != new.ratings {
        diff.outside.push("a rating".into());
    }
    if old.help != new.help {
        diff.outside.push("an educate-and-help list entry".into());
    }
    Ok(diff)
}

#[cfg(test)]
mod tests;
