//! Judging a received dossier change by its operations, against its own history (the document at its
//! dependencies), so that every node reads the same thing from it whatever else it holds: which events
//! it creates (and so which case steps it adds), and which fields it writes. A change may only do what
//! [`Dossier::create_by`] and [`Dossier::edit_by`] do:
//!
//! - its operation counter continues its history (`start_op` = the history's largest + 1) and its
//!   sequence number its actor's (`seq` = the actor's last + 1): a change numbered otherwise would apply,
//!   then make the saved document unloadable;
//! - on the root: a text put or a deletion at a field key, superseding only operations visible there in
//!   its history (or its own earlier ones); `kind` and `id` only when it creates the dossier; the
//!   `events` list made only when the history has none;
//! - in an events list: only new maps inserted; in a map it inserted: the texts `kind`, `date`,
//!   `detail`. An event, once written, is never changed, moved or deleted.
//!
//! So a case step is attributed to the change that created its event, whatever list or order a reader
//! shows it in, and no change can hide, alter or take back one.

use std::collections::{BTreeMap, BTreeSet};

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{ActorId, Automerge, Change, ObjType, ReadDoc, ScalarValue, ROOT};

use crate::member::{Event, EventKind, Field};

use super::DossierError;

/// What a change writes, read from its operations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DossierWrite {
    /// The events it creates, in the order it inserts them.
    pub events: Vec<Event>,
    /// The fields it writes: a value, or `None` for a deletion.
    pub fields: BTreeMap<Field, Option<String>>,
    /// Whether it creates the dossier.
    pub creates: bool,
}

impl DossierWrite {
    /// The value it writes to `f`, if it writes `f` (`Some(None)`: deletes it).
    pub fn field(&self, f: Field) -> Option<Option<&str>> {
        self.fields.get(&f).map(|v| v.as_deref())
    }
}

fn bad(what: impl Into<String>) -> DossierError {
    DossierError::BadOperation(what.into())
}

type OpKey = (u64, ActorId);

fn op_key(id: &automerge::ObjId) -> Option<OpKey> {
    match id {
        automerge::ObjId::Id(counter, actor, _) => Some((*counter, actor.clone())),
        automerge::ObjId::Root => None,
    }
}

/// What a creation (a change with no dependencies) writes, read from the dossier it makes (`after`)
/// without decoding its operations: everything in it is the change's. Its counters must start at 1.
pub fn creation_write(
    change: &Change,
    after: &crate::MemberRecord,
) -> Result<DossierWrite, DossierError> {
    if !change.deps().is_empty() || change.start_op().get() != 1 || change.seq() != 1 {
        return Err(bad("a new dossier's first change starts its counters at 1"));
    }
    Ok(DossierWrite {
        events: after.events.clone(),
        fields: after
            .fields
            .iter()
            .map(|(f, v)| (*f, Some(v.clone())))
            .collect(),
        creates: true,
    })
}

/// Reads what `change` writes, refusing any operation an edit does not make. `history` holds exactly
/// the change's dependencies (an empty document for a change with none).
pub fn dossier_write(history: &Automerge, change: &Change) -> Result<DossierWrite, DossierError> {
    crate::counters::follow_history(history, change).map_err(bad)?;
    let creates = history.get_heads().is_empty();
    let expanded = change.decode();
    if expanded.operations.is_empty() {
        return Err(bad("no operation"));
    }
    let start = expanded.start_op.get();
    // The events lists of the history (normally one; two when two nodes made one at once).
    let lists: BTreeSet<OpKey> = history
        .get_all(ROOT, "events")
        .unwrap_or_default()
        .into_iter()
        .filter(|(v, _)| v.to_objtype() == Some(ObjType::List))
        .filter_map(|(_, id)| op_key(&id))
        .collect();
    let mut out = DossierWrite {
        creates,
        ..DossierWrite::default()
    };
    let mut made_lists: BTreeSet<OpKey> = BTreeSet::new();
    // Event maps this change makes, with what it puts in them, in insertion order.
    let mut made_maps: Vec<(OpKey, BTreeMap<String, String>)> = Vec::new();
    let mut own_root: BTreeMap<String, Vec<OpKey>> = BTreeMap::new();
    for (i, op) in expanded.operations.iter().enumerate() {
        let op_id: OpKey = (start + i as u64, expanded.actor_id.clone());
        match &op.obj {
            ObjectId::Root => {
                let Key::Map(key) = &op.key else {
                    return Err(bad("a list operation on the root"));
                };
                let key = key.as_str();
                if op.insert {
                    return Err(bad("an insertion on the root"));
                }
                let visible: Vec<OpKey> = history
                    .get_all(ROOT, key)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|(_, id)| op_key(id))
                    .collect();
                let earlier = own_root.get(key).cloned().unwrap_or_default();
                for p in op.pred.iter() {
                    let p = (p.0, p.1.clone());
                    if !visible.contains(&p) && !earlier.contains(&p) {
                        return Err(bad(format!("{key:?} supersedes an operation not there")));
                    }
                }
                own_root
                    .entry(key.to_string())
                    .or_default()
                    .push(op_id.clone());
                match (key, &op.action) {
                    ("kind" | "id", OpType::Put(ScalarValue::Str(_))) if creates => {}
                    ("events", OpType::Make(ObjType::List))
                        if lists.is_empty() && made_lists.is_empty() && op.pred.is_empty() =>
                    {
                        made_lists.insert(op_id);
                    }
                    ("events", _) => {
                        return Err(bad("the events list is made once and never replaced"))
                    }
                    (_, action) => {
                        let Some(f) = Field::ALL.iter().copied().find(|f| f.key() == key) else {
                            return Err(bad(format!("root key {key:?}")));
                        };
                        match action {
                            // A status or a unit must read as one (a value no reader parses would
                            // leave the member without one, and any status could follow).
                            OpType::Put(ScalarValue::Str(v))
                                if f == Field::Status
                                    && !crate::Status::ALL
                                        .iter()
                                        .any(|st| st.key() == v.as_str()) =>
                            {
                                return Err(bad(format!("status {v:?}")));
                            }
                            OpType::Put(ScalarValue::Str(v))
                                if f == Field::Unit && crate::UnitPath::parse(v).is_err() =>
                            {
                                return Err(bad(format!("unit {v:?}")));
                            }
                            OpType::Put(ScalarValue::Str(v)) => {
                                out.fields.insert(f, Some(v.to_string()));
                            }
                            OpType::Delete if !creates && !super::REQUIRED.contains(&f) => {
                                out.fields.insert(f, None);
                            }
                            OpType::Delete => {
                                return Err(bad(format!("{key:?} is required and never removed")))
                            }
                            _ => return Err(bad(format!("{key:?}: not a text"))),
                        }
                    }
                }
            }
            ObjectId::Id(id) => {
                let obj: OpKey = (id.0, id.1.clone());
                if lists.contains(&obj) || made_lists.contains(&obj) {
                    match (&op.action, op.insert, op.pred.is_empty()) {
                        (OpType::Make(ObjType::Map), true, true) => {
                            made_maps.push((op_id, BTreeMap::new()));
                        }
                        _ => return Err(bad("an event is never changed, moved or deleted")),
                    }
                } else if let Some((_, puts)) = made_maps.iter_mut().find(|(k, _)| *k == obj) {
                    let Key::Map(key) = &op.key else {
                        return Err(bad("a list operation in an event"));
                    };
                    match (key.as_str(), &op.action, op.pred.is_empty(), op.insert) {
                        (
                            "kind" | "date" | "detail",
                            OpType::Put(ScalarValue::Str(v)),
                            true,
                            false,
                        ) if !puts.contains_key(key.as_str()) => {
                            puts.insert(key.to_string(), v.to_string());
                        }
                        _ => return Err(bad(format!("event key {key:?}"))),
                    }
                } else {
                    return Err(bad("an event is never changed once written"));
                }
            }
        }
    }
    for (_, puts) in made_maps {
        let kind = puts
            .get("kind")
            .and_then(|k| EventKind::ALL.iter().copied().find(|e| e.key() == k))
            .ok_or_else(|| bad("an event without a known kind"))?;
        out.events.push(Event {
            kind,
            date: puts.get("date").cloned(),
            detail: puts.get("detail").cloned().unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
