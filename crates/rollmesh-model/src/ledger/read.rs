//! Reading a ledger document into its plain view (members' maps merged when two nodes made one
//! concurrently) and summarising an edit for its commit message.

#[allow(unused_imports)]
use super::*;

pub(super) fn read(doc: &Automerge, cell: &UnitPath, year: i32, maps: &[ObjId; 2]) -> Ledger {
    let [meetings_obj, members_obj] = maps;
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
    let mut dues: BTreeMap<String, BTreeMap<u32, Dues>> = BTreeMap::new();
    let mut ratings = BTreeMap::new();
    let mut help: BTreeMap<String, HelpRecord> = BTreeMap::new();
    for item in doc.map_range(members_obj, ..) {
        let Some(member) = canonical_member(&item.key) else {
            continue;
        };
        let mut take = |key: &str, value: &str| {
            if let Some(meeting) = parse_attendance_key(key) {
                if meeting.date.year() != year {
                    return;
                }
                if let Some(a) = decode_attendance(value) {
                    // Attendance always follows its meeting; a key without one still names the date
                    // and kind.
                    meetings
                        .entry(meeting)
                        .or_insert_with(|| blank(&meeting))
                        .attendance
                        .insert(member.clone(), a);
                }
            } else if let Some(month) = parse_dues_key(key) {
                if let Some(d) = decode_dues(value) {
                    dues.entry(member.clone()).or_default().insert(month, d);
                }
            } else if key == RATING_KEY {
                if let Some(r) = Rating::ALL.iter().find(|r| r.key() == value) {
                    ratings.insert(member.clone(), *r);
                }
            } else if let Some(entry) = parse_help_key(key) {
                if entry.date().year() != year {
                    return;
                }
                let rec = help.entry(member.clone()).or_default();
                match entry {
                    HelpEntry::Start(d) => rec.start = Some(d),
                    HelpEntry::End(d) => rec.end = Some(d),
                    HelpEntry::Note(d) => {
                        rec.notes.insert(d, value.to_string());
                    }
                }
            }
        };
        let maps = member_maps(doc, members_obj, &item.key);
        if let [only] = maps.as_slice() {
            // One map (the usual case): Automerge's winner of each key is the value shown.
            for entry in doc.map_range(only, ..) {
                if let Some(v) = str_of(&entry.value) {
                    take(&entry.key, v);
                }
            }
            continue;
        }
        for (key, values) in member_entries(doc, members_obj, &item.key) {
            // The value written last in Automerge's order (the same at every node).
            if let Some((_, value)) = values.last() {
                take(&key, value);
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

/// The maps a member has under `members` (one, or several made concurrently), the winner first.
pub(super) fn member_maps(doc: &Automerge, members: &ObjId, id: &str) -> Vec<ObjId> {
    let mut out: Vec<ObjId> = Vec::new();
    if let Ok(Some((Value::Object(ObjType::Map), winner))) = doc.get(members, id) {
        out.push(winner);
    }
    for (v, obj) in doc.get_all(members, id).unwrap_or_default() {
        if matches!(v, Value::Object(ObjType::Map)) && !out.contains(&obj) {
            out.push(obj);
        }
    }
    out
}

/// Every entry of a member's maps with every value it holds, each with the id of the operation that
/// wrote it, in Automerge's order (the last is the one a reader shows).
pub(super) fn member_entries(
    doc: &Automerge,
    members: &ObjId,
    id: &str,
) -> BTreeMap<String, Vec<(ObjId, String)>> {
    let mut out: BTreeMap<String, Vec<(ObjId, String)>> = BTreeMap::new();
    for obj in member_maps(doc, members, id) {
        for item in doc.map_range(&obj, ..) {
            let slot = out.entry(item.key.to_string()).or_default();
            if item.conflict {
                for (v, op) in doc.get_all(&obj, item.key.as_ref()).unwrap_or_default() {
                    if let Some(s) = v.as_str() {
                        slot.push((op, s.to_string()));
                    }
                }
            } else if let Some(s) = str_of(&item.value) {
                slot.push((item.id(), s.to_string()));
            }
        }
    }
    for values in out.values_mut() {
        values.sort_by(|a, b| a.0.cmp(&b.0));
    }
    out.retain(|_, v| !v.is_empty());
    out
}

/// Keys of `obj` holding more than one distinct string, with the distinct values, the winner first.
pub(super) fn conflicted(doc: &Automerge, obj: &ObjId) -> Vec<(String, Vec<String>)> {
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

pub(super) fn str_of<'a>(v: &'a ValueRef<'_>) -> Option<&'a str> {
    match v {
        ValueRef::Scalar(ScalarValueRef::Str(s)) => Some(s.as_ref()),
        _ => None,
    }
}

/// What one edit changes, for its commit message.
#[derive(Default)]
pub(super) struct EditCounts {
    pub(super) meetings: Vec<String>,
    pub(super) attendance: usize,
    pub(super) dues: usize,
    pub(super) ratings: usize,
    pub(super) help: usize,
    pub(super) cleared: usize,
    pub(super) grant: bool,
}

impl EditCounts {
    pub(super) fn count(&mut self, key: &str) {
        if key.starts_with("a/") {
            self.attendance += 1;
        } else if key.starts_with("d/") {
            self.dues += 1;
        } else if key == RATING_KEY {
            self.ratings += 1;
        } else {
            self.help += 1;
        }
    }

    pub(super) fn message(&self) -> String {
        let mut parts = Vec::new();
        if !self.meetings.is_empty() {
            parts.push(format!("meeting {}", self.meetings.join(" ")));
        }
        for (n, what) in [
            (self.attendance, "attendance"),
            (self.dues, "dues"),
            (self.ratings, "ratings"),
            (self.help, "help list"),
            (self.cleared, "cleared"),
        ] {
            if n > 0 {
                parts.push(format!("{what} {n}"));
            }
        }
        if self.grant {
            parts.push("grant".into());
        }
        parts.join("; ")
    }
}
