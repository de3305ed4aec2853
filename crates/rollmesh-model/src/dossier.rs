//! The member dossier as an Automerge document. This module is the only place that knows Automerge keys:
//! the root map holds `kind`, `id`, one string per [`Field`] under its key, and `events`, a list of maps
//! (`kind`, `date`, `detail`). Everything else edits and reads dossiers through [`DossierEdit`] and
//! [`MemberRecord`].

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    hydrate, ActorId, Automerge, AutomergeError, Change, ObjId, ObjType, ReadDoc, ScalarValueRef,
    ValueRef, ROOT,
};

use crate::member::{Event, EventKind, Field, FieldError, MemberId, MemberRecord};

mod ops;

pub use ops::{creation_write, dossier_write, DossierWrite};

/// The value of the root `kind` key of every member dossier.
pub const DOSSIER_KIND: &str = "rollmesh/member/v1";

/// Why a dossier could not be created, edited or read.
#[derive(Debug, thiserror::Error)]
pub enum DossierError {
    /// Automerge refused an operation or a load.
    #[error("automerge: {0}")]
    Automerge(#[from] AutomergeError),
    /// The document is not a member dossier (wrong or missing `kind`).
    #[error("document is not a member dossier")]
    NotADossier,
    /// The document's `id` does not match the id it is stored or sent under.
    #[error("document id {found:?} does not match {expected}")]
    WrongId {
        /// The id the document was expected to carry.
        expected: MemberId,
        /// What it carries.
        found: Option<String>,
    },
    /// A field value was refused.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// A case step in the events is not well-formed.
    #[error(transparent)]
    Case(#[from] crate::case::CaseError),
    /// A received change holds an operation no edit makes.
    #[error("not a dossier edit: {0}")]
    BadOperation(String),
}

/// A set of edits to apply to a dossier as one change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DossierEdit {
    /// Fields to set, with already-normalised values (see [`Field::normalize`]).
    pub set: BTreeMap<Field, String>,
    /// Fields to remove.
    pub clear: BTreeSet<Field>,
    /// Events to append.
    pub events: Vec<Event>,
}

impl DossierEdit {
    /// True when the edit would change nothing.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.clear.is_empty() && self.events.is_empty()
    }
}

/// A loaded member dossier.
#[derive(Debug, Clone)]
pub struct Dossier {
    id: MemberId,
    doc: Automerge,
}

/// The line of a change message that names the person who made the change.
const PERSON_PREFIX: &str = "\nby: ";

/// A change message with the person appended (names are single-line: white space collapsed).
fn with_person(message: String, by: Option<&str>) -> String {
    match by.map(crate::text::clean) {
        Some(p) if !p.is_empty() => {
            let p: String = p
                .chars()
                .filter(|c| !crate::text::is_hidden(*c))
                .take(120)
                .collect();
            format!("{message}{PERSON_PREFIX}{p}")
        }
        _ => message,
    }
}

/// Splits a dossier change message into what changed (`create`, `edit …`) and the person it names, if
/// any. The person is what the authoring node said; the node itself is proven by the signature.
pub fn change_person(message: &str) -> (&str, Option<&str>) {
    match message.split_once(PERSON_PREFIX) {
        Some((what, by)) => (what, Some(by)),
        None => (message, None),
    }
}

/// Fields every dossier must keep.
pub(crate) const REQUIRED: [Field; 3] = [Field::FullName, Field::Unit, Field::Status];

impl Dossier {
    /// Creates a new dossier and returns it with the one change that created it. `fields` must hold
    /// normalised values including a full name and a unit; the status defaults to official.
    pub fn create(
        id: MemberId,
        actor: ActorId,
        fields: BTreeMap<Field, String>,
        events: Vec<Event>,
        time: i64,
    ) -> Result<(Dossier, Change), DossierError> {
        Dossier::create_by(id, actor, fields, events, time, None)
    }

    /// [`Dossier::create`] naming the person who made it in the change's message (see
    /// [`change_person`]), so every node's history can say who, not only which node.
    pub fn create_by(
        id: MemberId,
        actor: ActorId,
        mut fields: BTreeMap<Field, String>,
        events: Vec<Event>,
        time: i64,
        by: Option<&str>,
    ) -> Result<(Dossier, Change), DossierError> {
        fields
            .entry(Field::Status)
            .or_insert_with(|| "official".to_string());
        for f in REQUIRED {
            if !fields.contains_key(&f) {
                return Err(FieldError::Required(f.key()).into());
            }
        }
        let mut doc = Automerge::new().with_actor(actor);
        // One hydrated root instead of a put per field: automerge splices the op set twice, not per key.
        let mut root: std::collections::HashMap<String, hydrate::Value> =
            std::collections::HashMap::new();
        let text = |v: &str| hydrate::Value::Scalar(automerge::ScalarValue::Str(v.into()));
        root.insert("kind".into(), text(DOSSIER_KIND));
        root.insert("id".into(), text(&id.to_string()));
        for (f, v) in &fields {
            root.insert(f.key().into(), text(v));
        }
        let events: Vec<hydrate::Value> = events
            .iter()
            .map(|e| {
                let mut m: std::collections::HashMap<String, hydrate::Value> =
                    std::collections::HashMap::new();
                m.insert("kind".into(), text(e.kind.key()));
                if let Some(d) = &e.date {
                    m.insert("date".into(), text(d));
                }
                m.insert("detail".into(), text(&e.detail));
                hydrate::Value::Map(hydrate::Map::from(m))
            })
            .collect();
        root.insert(
            "events".into(),
            hydrate::Value::List(hydrate::List::from(events)),
        );
        let root = hydrate::Map::from(root);
        doc.transact_with::<_, _, AutomergeError, _>(
            |_| {
                CommitOptions::default()
                    .with_message(with_person("create".to_string(), by))
                    .with_time(time)
            },
            |tx| tx.init_root_from_hydrate(&root),
        )
        .map_err(|f| f.error)?;
        let change = doc
            .get_last_local_change()
            .ok_or(DossierError::NotADossier)?;
        Ok((Dossier { id, doc }, change))
    }

    /// Wraps a document after checking that it is the dossier of `id`.
    pub fn from_doc(id: MemberId, doc: Automerge) -> Result<Dossier, DossierError> {
        let d = Dossier { id, doc };
        d.check()?;
        Ok(d)
    }

    /// Loads a saved document and checks it is the dossier of `id`.
    pub fn load(id: MemberId, bytes: &[u8]) -> Result<Dossier, DossierError> {
        Self::from_doc(id, Automerge::load(bytes)?)
    }

    fn check(&self) -> Result<(), DossierError> {
        check(self.id, &self.doc)
    }

    /// The projection of a document that should be the dossier of `id`, without taking ownership of it.
    pub fn record_of(id: MemberId, doc: &Automerge) -> Result<MemberRecord, DossierError> {
        // One pass over the root map: winning values and conflict flags together.
        let mut kind_ok = false;
        let mut id_text: Option<String> = None;
        let mut fields = BTreeMap::new();
        let mut conflicted = Vec::new();
        for item in doc.map_range(ROOT, ..) {
            let key: &str = &item.key;
            let text = match &item.value {
                ValueRef::Scalar(ScalarValueRef::Str(s)) => Some(s.as_ref()),
                _ => None,
            };
            match key {
                "kind" => kind_ok = text == Some(DOSSIER_KIND),
                "id" => id_text = text.map(str::to_string),
                "events" => {}
                _ => {
                    if let Some(f) = Field::ALL.iter().copied().find(|f| f.key() == key) {
                        if item.conflict {
                            conflicted.push(f);
                        }
                        if let Some(t) = text {
                            fields.insert(f, t.to_string());
                        }
                    }
                }
            }
        }
        if !kind_ok {
            return Err(DossierError::NotADossier);
        }
        if id_text.as_deref() != Some(id.to_string().as_str()) {
            return Err(DossierError::WrongId {
                expected: id,
                found: id_text,
            });
        }
        conflicted.sort();
        // Events from every events list (two nodes may each have made one at once), in a fixed order.
        let mut lists: Vec<ObjId> = doc
            .get_all(ROOT, "events")?
            .into_iter()
            .filter(|(v, _)| v.to_objtype() == Some(ObjType::List))
            .map(|(_, id)| id)
            .collect();
        lists.sort();
        let mut events = Vec::new();
        for list in &lists {
            events.extend(read_events_of(doc, list)?);
        }
        // Every case step must read (docs/PROTOCOL.md §3d): a dossier holding a malformed one is not valid.
        let steps = crate::case::steps_of(&events)?;
        // Where the status or the unit holds concurrent values, the one the decisions leave is shown.
        let (status, unit) = if steps.is_empty() {
            (None, None)
        } else {
            crate::case::decided(&crate::case::cases_of(steps))
        };
        for (f, want) in [(Field::Status, status), (Field::Unit, unit)] {
            let Some(want) = want else { continue };
            if !conflicted.contains(&f) {
                continue;
            }
            let held = doc.get_all(ROOT, f.key())?.into_iter().any(|(v, _)| {
                matches!(v, automerge::Value::Scalar(ref s) if s.as_str() == Some(want.as_str()))
            });
            if held {
                fields.insert(f, want);
            }
        }
        Ok(MemberRecord {
            id,
            fields,
            events,
            conflicted,
        })
    }

    /// The member id.
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// The underlying document.
    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    /// Consumes the dossier, returning the document.
    pub fn into_doc(self) -> Automerge {
        self.doc
    }

    /// Applies `edit` as one change authored by `actor`; `None` when it changes nothing.
    pub fn edit(
        &mut self,
        actor: ActorId,
        edit: &DossierEdit,
        time: i64,
    ) -> Result<Option<Change>, DossierError> {
        self.edit_by(actor, edit, time, None)
    }

    /// [`Dossier::edit`] naming the person who made it in the change's message.
    pub fn edit_by(
        &mut self,
        actor: ActorId,
        edit: &DossierEdit,
        time: i64,
        by: Option<&str>,
    ) -> Result<Option<Change>, DossierError> {
        for f in REQUIRED {
            if edit.clear.contains(&f) {
                return Err(FieldError::Required(f.key()).into());
            }
        }
        let current = self.record()?;
        let set: Vec<(&Field, &String)> = edit
            .set
            .iter()
            .filter(|(f, v)| current.get(**f) != Some(v.as_str()) || current.conflicted.contains(f))
            .collect();
        let clear: Vec<&Field> = edit
            .clear
            .iter()
            .filter(|f| current.get(**f).is_some())
            .collect();
        if set.is_empty() && clear.is_empty() && edit.events.is_empty() {
            return Ok(None);
        }
        let mut parts: Vec<String> = set.iter().map(|(f, _)| f.key().to_string()).collect();
        parts.extend(clear.iter().map(|f| format!("-{}", f.key())));
        parts.extend(
            edit.events
                .iter()
                .map(|e| format!("+event:{}", e.kind.key())),
        );
        let message = with_person(format!("edit {}", parts.join(" ")), by);
        self.doc.set_actor(actor);
        let events_obj = match self.doc.get(ROOT, "events")? {
            Some((v, obj)) if v.to_objtype() == Some(ObjType::List) => Some(obj),
            _ => None,
        };
        let events_len = events_obj.as_ref().map(|o| self.doc.length(o)).unwrap_or(0);
        self.doc
            .transact_with::<_, _, AutomergeError, _>(
                |_| {
                    CommitOptions::default()
                        .with_message(message)
                        .with_time(time)
                },
                |tx| {
                    for (f, v) in &set {
                        tx.put(ROOT, f.key(), v.as_str())?;
                    }
                    for f in &clear {
                        tx.delete(ROOT, f.key())?;
                    }
                    if !edit.events.is_empty() {
                        let list = match &events_obj {
                            Some(o) => o.clone(),
                            None => tx.put_object(ROOT, "events", ObjType::List)?,
                        };
                        for (i, e) in edit.events.iter().enumerate() {
                            insert_event(tx, &list, events_len + i, e)?;
                        }
                    }
                    Ok(())
                },
            )
            .map_err(|f| f.error)?;
        Ok(self.doc.get_last_local_change())
    }

    /// The compact projection of the current state (winning values; conflicted fields listed).
    pub fn record(&self) -> Result<MemberRecord, DossierError> {
        Self::record_of(self.id, &self.doc)
    }

    /// Every field holding concurrent values, with all of them (the winning value first).
    pub fn conflicts(&self) -> Result<BTreeMap<Field, Vec<String>>, DossierError> {
        let mut out = BTreeMap::new();
        for &f in Field::ALL {
            let all = self.doc.get_all(ROOT, f.key())?;
            if all.len() > 1 {
                let mut values: Vec<String> = all
                    .iter()
                    .filter_map(|(v, _)| v.as_str().map(str::to_string))
                    .collect();
                if let Some(w) = get_str(&self.doc, &ROOT, f.key()) {
                    if let Some(pos) = values.iter().position(|v| *v == w) {
                        let winner = values.remove(pos);
                        values.insert(0, winner);
                    }
                }
                out.insert(f, values);
            }
        }
        Ok(out)
    }
}

fn read_events_of(doc: &Automerge, list: &ObjId) -> Result<Vec<Event>, DossierError> {
    let list = list.clone();
    let mut out = Vec::new();
    for i in 0..doc.length(&list) {
        let Some((v, obj)) = doc.get(&list, i)? else {
            continue;
        };
        if v.to_objtype() != Some(ObjType::Map) {
            continue;
        }
        let Some(kind) = get_str(doc, &obj, "kind").and_then(|k| EventKind::parse(&k)) else {
            continue;
        };
        out.push(Event {
            kind,
            date: get_str(doc, &obj, "date"),
            detail: get_str(doc, &obj, "detail").unwrap_or_default(),
        });
    }
    Ok(out)
}

fn check(id: MemberId, doc: &Automerge) -> Result<(), DossierError> {
    if get_str(doc, &ROOT, "kind").as_deref() != Some(DOSSIER_KIND) {
        return Err(DossierError::NotADossier);
    }
    let found = get_str(doc, &ROOT, "id");
    if found.as_deref() != Some(id.to_string().as_str()) {
        return Err(DossierError::WrongId {
            expected: id,
            found,
        });
    }
    Ok(())
}

fn insert_event(
    tx: &mut impl Transactable,
    list: &ObjId,
    index: usize,
    e: &Event,
) -> Result<(), AutomergeError> {
    let m = tx.insert_object(list, index, ObjType::Map)?;
    tx.put(&m, "kind", e.kind.key())?;
    if let Some(d) = &e.date {
        tx.put(&m, "date", d.as_str())?;
    }
    tx.put(&m, "detail", e.detail.as_str())?;
    Ok(())
}

fn get_str(doc: &Automerge, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key) {
        Ok(Some((v, _))) => v.as_str().map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str) -> BTreeMap<Field, String> {
        let mut f = BTreeMap::new();
        f.insert(Field::FullName, name.to_string());
        f.insert(Field::Unit, "hn.d01.w01.c01".to_string());
        f
    }

    #[test]
    fn create_edit_and_read_back() {
        let id = MemberId::new(0, rand::random());
        let (mut d, first) = Dossier::create(
            id,
            ActorId::from([1u8; 16]),
            fields("Nguyễn Văn An"),
            vec![],
            100,
        )
        .expect("create");
        assert_eq!(first.message(), Some("create"));
        let rec = d.record().expect("record");
        assert_eq!(rec.name(), "Nguyễn Văn An");
        assert_eq!(rec.get(Field::Status), Some("official"));
        let mut edit = DossierEdit::default();
        edit.set.insert(Field::Phone, "0912345678".into());
        edit.events.push(Event {
            kind: EventKind::Rating,
            date: Some("2025-12-31".into()),
            detail: "good".into(),
        });
        let c = d
            .edit(ActorId::from([1u8; 16]), &edit, 200)
            .expect("edit")
            .expect("a change");
        assert_eq!(c.deps(), &[first.hash()]);
        let rec = d.record().expect("record");
        assert_eq!(rec.get(Field::Phone), Some("0912345678"));
        assert_eq!(rec.events.len(), 1);
        // The same edit again changes nothing.
        let mut again = edit.clone();
        again.events.clear();
        assert!(d
            .edit(ActorId::from([1u8; 16]), &again, 300)
            .expect("edit")
            .is_none());
        // Identity fields cannot be removed.
        let mut bad = DossierEdit::default();
        bad.clear.insert(Field::FullName);
        assert!(d.edit(ActorId::from([1u8; 16]), &bad, 300).is_err());
    }

    #[test]
    fn concurrent_puts_show_as_conflict() {
        let id = MemberId::new(0, rand::random());
        let (d, first) = Dossier::create(
            id,
            ActorId::from([1u8; 16]),
            fields("Lê Thị Hằng"),
            vec![],
            1,
        )
        .expect("create");
        let mut a = d.clone();
        let mut b = Dossier::from_doc(id, {
            let mut doc = Automerge::new();
            doc.apply_changes([first]).expect("apply");
            doc
        })
        .expect("load");
        let mut ea = DossierEdit::default();
        ea.set.insert(Field::CurrentResidence, "Hà Nội".into());
        let mut eb = DossierEdit::default();
        eb.set.insert(Field::CurrentResidence, "Hải Phòng".into());
        let ca = a
            .edit(ActorId::from([1u8; 16]), &ea, 2)
            .expect("a")
            .expect("ch");
        let cb = b
            .edit(ActorId::from([2u8; 16]), &eb, 2)
            .expect("b")
            .expect("ch");
        a.doc.apply_changes([cb]).expect("apply");
        b.doc.apply_changes([ca]).expect("apply");
        assert_eq!(a.doc.get_heads(), b.doc.get_heads());
        let conflicts = a.conflicts().expect("conflicts");
        assert_eq!(conflicts[&Field::CurrentResidence].len(), 2);
        assert_eq!(a.record().expect("rec"), b.record().expect("rec"));
        assert_eq!(
            a.record().expect("rec").conflicted,
            vec![Field::CurrentResidence]
        );
    }

    #[test]
    fn refuses_foreign_documents() {
        let doc = Automerge::new();
        assert!(matches!(
            Dossier::from_doc(MemberId::new(0, rand::random()), doc),
            Err(DossierError::NotADossier)
        ));
        let id = MemberId::new(0, rand::random());
        let (d, _) =
            Dossier::create(id, ActorId::from([1u8; 16]), fields("A"), vec![], 1).expect("create");
        assert!(matches!(
            Dossier::from_doc(MemberId::new(0, rand::random()), d.into_doc()),
            Err(DossierError::WrongId { .. })
        ));
    }
}
