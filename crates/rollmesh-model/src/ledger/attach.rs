//! Attachment books: what a host cell records about a member temporarily attached to it (sinh hoạt tạm
//! thời), and the bounded write the home side grants for it.
//!
//! An attachment book is a ledger document named by (host, year, member, home) ([`LedgerName`]). Its
//! `grant` map — first day, last day, reason, the member's name — is written by the home side; its
//! meetings, attendance and dues by the host, only about that member and only inside the granted period.
//! A node checks every received change operation by operation ([`change_parts`] says which part it
//! touched and what falls outside the grant), and a reader sees only the entries the grant covers
//! ([`within`]), so shortening an attachment withdraws the host's later entries everywhere.

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
/// dues from `from` to `until` inclusive. The home side also tells the host the member's name, which the
/// host holds no dossier for (to show it, and to check a sheet row's name against).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// First day at the host.
    pub from: NaiveDate,
    /// Last day at the host (inclusive).
    pub until: NaiveDate,
    /// Work or study.
    pub reason: AttachReason,
    /// The member's full name, as the home cell holds it.
    #[serde(default)]
    pub name: Option<String>,
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
            name: None,
        })
    }

    /// The grant, telling the host the member's name (cleaned as a topic is; a blank name is none).
    pub fn with_name(mut self, name: &str) -> Result<Grant, LedgerError> {
        let name = clean_text("name", name)?;
        self.name = (!name.is_empty()).then_some(name);
        Ok(self)
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
    pub(super) fn entries(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("from", self.from.format("%Y-%m-%d").to_string()),
            ("until", self.until.format("%Y-%m-%d").to_string()),
            ("reason", self.reason.key().to_string()),
        ];
        if let Some(n) = &self.name {
            out.push(("name", n.clone()));
        }
        out
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
    read_grant_at(doc, obj, None)
}

/// [`read_grant`] as of the document's state at `heads` (now when `None`).
pub(super) fn read_grant_at(
    doc: &Automerge,
    obj: &ObjId,
    heads: Option<&[automerge::ChangeHash]>,
) -> Option<Grant> {
    grant_from(|key| {
        let got = match heads {
            Some(h) => doc.get_at(obj, key, h),
            None => doc.get(obj, key),
        };
        match got {
            Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                ScalarValue::Str(t) => Some(t.to_string()),
                _ => None,
            },
            _ => None,
        }
    })
}

/// A grant from its stored texts (`get` gives the text under a key), if complete and well-formed.
pub(super) fn grant_from(get: impl Fn(&str) -> Option<String>) -> Option<Grant> {
    let date = |key: &str| grant_date(&get(key)?);
    let reason = AttachReason::from_key(&get("reason")?)?;
    let grant = Grant::new(date("from")?, date("until")?, reason).ok()?;
    // A name that is not what an edit stores (control characters, overlong) is no name.
    Some(match get("name") {
        Some(n) => grant.clone().with_name(&n).unwrap_or(grant),
        None => grant,
    })
}

/// A grant's stored date: `YYYY-MM-DD`, exactly, within [`YEARS`].
pub(super) fn grant_date(t: &str) -> Option<NaiveDate> {
    let d = NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()?;
    (d.format("%Y-%m-%d").to_string() == t && YEARS.contains(&d.year())).then_some(d)
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
    let outside = LedgerError::OutsideAttachment;
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
        return Err(outside(Outside::Rating));
    }
    if !edit.help.is_empty() {
        return Err(outside(Outside::HelpList));
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
        return Err(outside(Outside::NoGrant));
    };
    for key in edit
        .meetings
        .keys()
        .chain(edit.attendance.keys().map(|(k, _)| k))
    {
        if !g.covers_day(key.date) {
            return Err(outside(Outside::Meeting(key.date)));
        }
    }
    for (_, month) in edit.dues.keys().chain(edit.cleared_dues.iter()) {
        if !g.touches_month(year, *month) {
            return Err(outside(Outside::Dues(*month, year)));
        }
    }
    Ok(())
}

/// What an edit of an attachment book wrote that its grant does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outside {
    /// Dues of a month (1–12) of a year the grant does not touch.
    Dues(u32, i32),
    /// A meeting on a day the grant does not cover.
    Meeting(NaiveDate),
    /// A rating (the home cell rates).
    Rating,
    /// An educate-and-help list entry (the home cell keeps the list).
    HelpList,
    /// Any entry while no attachment is recorded.
    NoGrant,
    /// An entry for a year the attachment does not reach.
    Year(i32),
}

impl fmt::Display for Outside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outside::Dues(m, y) => write!(f, "the dues of {m:02}/{y}"),
            Outside::Meeting(d) => write!(f, "the meeting of {}", d.format("%d/%m/%Y")),
            Outside::Rating => f.write_str("a rating"),
            Outside::HelpList => f.write_str("an educate-and-help list entry"),
            Outside::NoGrant => f.write_str("every entry (no attachment is recorded)"),
            Outside::Year(y) => write!(f, "the year {y}"),
        }
    }
}

#[cfg(test)]
mod tests;
