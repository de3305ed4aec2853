//! Judging a received ledger change by its operations: every operation must be one an edit writes —
//! a string under a well-formed key of the right map, a member's map made once under their id, a
//! cleared entry — and each touches one part of the document: the grant (an attachment book's home
//! side) or the entries (the cell, or the host). Looking at the operations, not at the views before and
//! after, sees what the change itself wrote: a value of another type, a value superseding an equal one,
//! or a key no reader parses are all visible here, and the check needs no earlier state of the document.

#[allow(unused_imports)]
use super::*;

use automerge::legacy::{Key, ObjectId, OpType};

/// What a change does to a ledger or an attachment book.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeParts {
    /// It writes the grant (the home side's part of an attachment book).
    pub grant: bool,
    /// It writes meetings or members' entries (the cell's, or the host's, part).
    pub entries: bool,
    /// Entries of an attachment book that the grant it sees does not allow, described.
    pub outside: Vec<String>,
}

/// An operation no edit writes, described; the change is not a valid ledger change.
fn bad(what: impl Into<String>) -> LedgerError {
    LedgerError::BadOperation(what.into())
}

fn op_key(id: &ObjId) -> Option<(u64, ActorId)> {
    match id {
        ObjId::Id(counter, actor, _) => Some((*counter, actor.clone())),
        ObjId::Root => None,
    }
}

/// `s` is stored clean (what [`clean_text`] would store).
fn clean(what: &'static str, s: &str) -> Result<(), LedgerError> {
    match clean_text(what, s) {
        Ok(v) if v == s => Ok(()),
        _ => Err(bad(format!("{what} {s:?} is not stored clean"))),
    }
}

/// Checks the value of a member's entry under `key`.
fn check_entry(key: &str, value: &str) -> Result<(), LedgerError> {
    let reason = |r: Option<&String>| r.map_or(Ok(()), |r| clean("reason", r));
    if parse_attendance_key(key).is_some() {
        match decode_attendance(value) {
            Some(Attendance::Absent { reason: r, .. }) => reason(r.as_ref()),
            Some(Attendance::Present) => Ok(()),
            None => Err(bad(format!("attendance {value:?}"))),
        }
    } else if parse_dues_key(key).is_some() {
        match decode_dues(value) {
            Some(Dues::Unpaid { reason: r, .. }) => reason(r.as_ref()),
            Some(Dues::Paid { .. }) => Ok(()),
            None => Err(bad(format!("dues {value:?}"))),
        }
    } else if key == RATING_KEY {
        match Rating::ALL.iter().any(|r| r.key() == value) {
            true => Ok(()),
            false => Err(bad(format!("rating {value:?}"))),
        }
    } else if let Some(entry) = parse_help_key(key) {
        match entry {
            HelpEntry::Note(_) => clean("note", value),
            _ if value == "1" => Ok(()),
            _ => Err(bad(format!("help list value {value:?}"))),
        }
    } else {
        Err(bad(format!("member entry key {key:?}")))
    }
}

/// Judges `change`, already applied to `after` (the book `name`), operation by operation: which parts it
/// touches and, for an attachment book, which of its entries the grant it sees (at the change itself)
/// does not allow. An operation no edit writes is an error.
pub fn change_parts(
    name: &LedgerName,
    after: &Automerge,
    change: &Change,
) -> Result<ChangeParts, LedgerError> {
    let ([meetings_obj, members_obj], grant_obj) = check(name, after)?;
    let (meetings, members) = (op_key(&meetings_obj), op_key(&members_obj));
    let grant_key = grant_obj.as_ref().and_then(op_key);
    // Every member's map, by its object, with the member id it is kept under.
    let mut maps: BTreeMap<(u64, ActorId), String> = BTreeMap::new();
    for item in after.map_range(&members_obj, ..) {
        for (v, obj) in after
            .get_all(&members_obj, item.key.as_ref())
            .unwrap_or_default()
        {
            if let (Value::Object(ObjType::Map), Some(k)) = (v, op_key(&obj)) {
                maps.insert(k, item.key.to_string());
            }
        }
    }
    let heads = [change.hash()];
    let in_grant = grant_obj
        .as_ref()
        .and_then(|g| attach::read_grant_at(after, g, Some(&heads)));
    let expanded = change.decode();
    let mut parts = ChangeParts::default();
    let start = expanded.start_op.get();
    for (i, op) in expanded.operations.iter().enumerate() {
        let Key::Map(key) = &op.key else {
            return Err(bad("a list operation"));
        };
        if op.insert {
            return Err(bad("an insertion"));
        }
        let key = key.as_str();
        let obj = match &op.obj {
            ObjectId::Root => {
                return Err(bad(format!("root key {key:?} (set by the genesis only)")))
            }
            ObjectId::Id(id) => (id.0, id.1.clone()),
        };
        if Some(&obj) == grant_key.as_ref() {
            parts.grant = true;
            match &op.action {
                OpType::Put(ScalarValue::Str(v)) => match key {
                    "from" | "until" if attach::grant_date(v).is_some() => {}
                    "reason" if AttachReason::from_key(v).is_some() => {}
                    "name" => clean("name", v)?,
                    _ => return Err(bad(format!("grant {key:?} = {v:?}"))),
                },
                _ => return Err(bad(format!("grant {key:?}: not a text"))),
            }
        } else if Some(&obj) == meetings.as_ref() {
            parts.entries = true;
            let Ok(meeting) = key.parse::<MeetingKey>() else {
                return Err(bad(format!("meeting key {key:?}")));
            };
            match &op.action {
                OpType::Put(ScalarValue::Str(v)) => clean("topic", v)?,
                _ => return Err(bad(format!("meeting {key:?}: not a text"))),
            }
            if name.attached.is_some()
                && !in_grant
                    .as_ref()
                    .is_some_and(|g| g.covers_day(meeting.date))
            {
                parts.outside.push(format!(
                    "the meeting of {}",
                    meeting.date.format("%d/%m/%Y")
                ));
            }
        } else if Some(&obj) == members.as_ref() {
            parts.entries = true;
            match &op.action {
                OpType::Make(ObjType::Map)
                    if op.pred.is_empty() && canonical_member(key).is_some() =>
                {
                    maps.insert(
                        (start + i as u64, expanded.actor_id.clone()),
                        key.to_string(),
                    );
                }
                _ => return Err(bad(format!("members {key:?}: not a new member's map"))),
            }
            if let Some(a) = &name.attached {
                if key != a.member.to_string() {
                    parts.outside.push(format!("entries of {key}"));
                }
            }
        } else if let Some(member) = maps.get(&obj).cloned() {
            parts.entries = true;
            match &op.action {
                OpType::Put(ScalarValue::Str(v)) => check_entry(key, v)?,
                OpType::Delete => {
                    if parse_attendance_key(key).is_none()
                        && parse_dues_key(key).is_none()
                        && key != RATING_KEY
                        && parse_help_key(key).is_none()
                    {
                        return Err(bad(format!("member entry key {key:?}")));
                    }
                }
                _ => return Err(bad(format!("member entry {key:?}: not a text"))),
            }
            if let Some(a) = &name.attached {
                let g = in_grant.as_ref();
                if member != a.member.to_string() {
                    parts.outside.push(format!("entries of {member}"));
                } else if let Some(m) = parse_attendance_key(key) {
                    if !g.is_some_and(|g| g.covers_day(m.date)) {
                        parts
                            .outside
                            .push(format!("the meeting of {}", m.date.format("%d/%m/%Y")));
                    }
                } else if let Some(month) = parse_dues_key(key) {
                    if !g.is_some_and(|g| g.touches_month(name.year, month)) {
                        parts
                            .outside
                            .push(format!("the dues of {month:02}/{}", name.year));
                    }
                } else if key == RATING_KEY {
                    parts.outside.push("a rating".into());
                } else {
                    parts.outside.push("an educate-and-help list entry".into());
                }
            }
        } else {
            return Err(bad(format!(
                "{key:?} of an object that is not the ledger's"
            )));
        }
    }
    Ok(parts)
}
