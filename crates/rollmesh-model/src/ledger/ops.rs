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

/// An operation's id: its counter and actor.
type OpKey = (u64, ActorId);

fn op_key(id: &ObjId) -> Option<OpKey> {
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

/// Judges `change` against `doc`, which holds its dependencies but not the change itself (call it
/// **before** applying: an operation on an object that does not exist, or superseding an operation that
/// is not there, is refused here rather than handed to Automerge). Every operation must be one an edit
/// writes, on an object of the change's own history (read at its dependencies, so the verdict is the
/// same at every node whatever else it holds), superseding only operations visible there at the same
/// key. Returns which parts the change touches and, for an attachment book, which of its entries the
/// grant it sees (at its dependencies, with its own grant operations) does not allow.
pub fn change_parts(
    name: &LedgerName,
    doc: &Automerge,
    change: &Change,
) -> Result<ChangeParts, LedgerError> {
    let ([meetings_obj, members_obj], grant_obj) = check(name, doc)?;
    let deps = change.deps();
    if deps.is_empty() {
        return Err(bad("no dependencies (every edit builds on the genesis)"));
    }
    let (meetings, members) = (op_key(&meetings_obj), op_key(&members_obj));
    let grant_key = grant_obj.as_ref().and_then(op_key);
    // Every member's map in the change's history, by its object, with the member id it is kept under.
    let mut maps: BTreeMap<(u64, ActorId), (String, ObjId)> = BTreeMap::new();
    for item in doc.map_range_at(&members_obj, .., deps) {
        for (v, obj) in doc
            .get_all_at(&members_obj, item.key.as_ref(), deps)
            .unwrap_or_default()
        {
            if let (Value::Object(ObjType::Map), Some(k)) = (v, op_key(&obj)) {
                maps.insert(k, (item.key.to_string(), obj));
            }
        }
    }
    // The document's name for an object of the change's history (none for a map made by the change).
    let object_of = |k: &(u64, ActorId)| -> Option<ObjId> {
        if Some(k) == meetings.as_ref() {
            Some(meetings_obj.clone())
        } else if Some(k) == members.as_ref() {
            Some(members_obj.clone())
        } else if Some(k) == grant_key.as_ref() {
            grant_obj.clone()
        } else {
            maps.get(k).map(|(_, o)| o.clone())
        }
    };
    crate::counters::follow_history(doc, change).map_err(bad)?;
    let expanded = change.decode();
    if expanded.operations.is_empty() {
        return Err(bad("no operation"));
    }
    let mut parts = ChangeParts::default();
    let start = expanded.start_op.get();
    // What the change writes: the grant's keys, and (member, entry key) or a meeting.
    let mut grant_puts: BTreeMap<&str, String> = BTreeMap::new();
    let mut written: Vec<(Option<String>, String)> = Vec::new();
    // Operations of this change so far, by (object, key), for preds inside the change.
    let mut own_ops: BTreeMap<(OpKey, String), Vec<OpKey>> = BTreeMap::new();
    // Member maps this change makes (with their member id).
    let mut made: BTreeMap<(u64, ActorId), String> = BTreeMap::new();
    for (i, op) in expanded.operations.iter().enumerate() {
        let op_id = (start + i as u64, expanded.actor_id.clone());
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
        // The object must be the ledger's and in the change's history; a member map from there or
        // made earlier in this change.
        let member_map = maps
            .get(&obj)
            .map(|(m, _)| m)
            .or_else(|| made.get(&obj))
            .cloned();
        let known = object_of(&obj);
        if known.is_none() && member_map.is_none() {
            return Err(bad(format!(
                "{key:?} of an object that is not the ledger's"
            )));
        }
        // Each superseded operation must be visible at that object and key in the change's history,
        // or an earlier operation of this change there.
        let slot = (obj.clone(), key.to_string());
        if !op.pred.is_empty() {
            let visible: Vec<(u64, ActorId)> = known
                .as_ref()
                .and_then(|o| doc.get_all_at(o, key, deps).ok())
                .unwrap_or_default()
                .iter()
                .filter_map(|(_, id)| op_key(id))
                .collect();
            let earlier = own_ops.get(&slot).cloned().unwrap_or_default();
            for p in op.pred.iter() {
                let p = (p.0, p.1.clone());
                if !visible.contains(&p) && !earlier.contains(&p) {
                    return Err(bad(format!("{key:?} supersedes an operation not there")));
                }
            }
        }
        own_ops.entry(slot).or_default().push(op_id.clone());
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
            if let OpType::Put(ScalarValue::Str(v)) = &op.action {
                grant_puts.insert(
                    match key {
                        "from" => "from",
                        "until" => "until",
                        "reason" => "reason",
                        _ => "name",
                    },
                    v.to_string(),
                );
            }
        } else if Some(&obj) == meetings.as_ref() {
            parts.entries = true;
            let Ok(meeting) = key.parse::<MeetingKey>() else {
                return Err(bad(format!("meeting key {key:?}")));
            };
            if meeting.date.year() != name.year {
                return Err(bad(format!("meeting {key:?} outside {}", name.year)));
            }
            match &op.action {
                OpType::Put(ScalarValue::Str(v)) => clean("topic", v)?,
                _ => return Err(bad(format!("meeting {key:?}: not a text"))),
            }
            written.push((None, key.to_string()));
        } else if Some(&obj) == members.as_ref() {
            parts.entries = true;
            match &op.action {
                OpType::Make(ObjType::Map)
                    if op.pred.is_empty() && canonical_member(key).is_some() =>
                {
                    made.insert(op_id, key.to_string());
                }
                _ => return Err(bad(format!("members {key:?}: not a new member's map"))),
            }
            written.push((Some(key.to_string()), String::new()));
        } else if let Some(member) = member_map {
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
            let year_of = |d: NaiveDate| d.year() == name.year;
            if let Some(m) = parse_attendance_key(key) {
                if !year_of(m.date) {
                    return Err(bad(format!("attendance {key:?} outside {}", name.year)));
                }
            }
            if let Some(h) = parse_help_key(key) {
                if !year_of(h.date()) {
                    return Err(bad(format!("help list {key:?} outside {}", name.year)));
                }
            }
            written.push((Some(member), key.to_string()));
        }
    }
    let Some(a) = &name.attached else {
        return Ok(parts);
    };
    // The grant as this change sees it: at its dependencies, with its own grant operations on top.
    let grant = grant_obj.as_ref().and_then(|g| {
        attach::grant_from(|key| match grant_puts.get(key) {
            Some(v) => Some(v.clone()),
            None => match doc.get_at(g, key, deps) {
                Ok(Some((Value::Scalar(s), _))) => s.as_str().map(str::to_string),
                _ => None,
            },
        })
    });
    let own_member = a.member.to_string();
    for (member, key) in written {
        let g = grant.as_ref();
        match member {
            None => {
                let meeting = key.parse::<MeetingKey>().ok();
                if let Some(m) = meeting.filter(|m| !g.is_some_and(|g| g.covers_day(m.date))) {
                    parts
                        .outside
                        .push(format!("the meeting of {}", m.date.format("%d/%m/%Y")));
                }
            }
            Some(m) if m != own_member => parts.outside.push(format!("entries of {m}")),
            Some(_) if key.is_empty() => {}
            Some(_) => {
                if let Some(m) = parse_attendance_key(&key) {
                    if !g.is_some_and(|g| g.covers_day(m.date)) {
                        parts
                            .outside
                            .push(format!("the meeting of {}", m.date.format("%d/%m/%Y")));
                    }
                } else if let Some(month) = parse_dues_key(&key) {
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
        }
    }
    Ok(parts)
}
