//! Organisation-wide documents: the organisation tree, the screening rule set and the holiday calendar.
//! Every node holds them whatever its scope; only the city node certified directly by the organisation's
//! root key may write them (the node enforces that, not this module).
//!
//! Each is an Automerge document with a fixed id ([`OrgDocKind::id`]) grown from a deterministic genesis
//! change (actor derived from the id, time 0), like the cell ledger, so every node starts from the same
//! root objects. Its content is one map, `versions`: a key → a text (TOML). The rule set keeps one
//! version per effective date (`YYYY-MM-DD`), so the rules in force on any day can be found and a
//! published future change does not replace today's rules early; the tree and the calendar keep one
//! version under [`CURRENT`].

use std::fmt;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, Automerge, AutomergeError, Change, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

/// The value of the root `kind` key of every organisation-wide document.
pub const ORG_KIND: &str = "rollmesh/org/v1";

/// The version key of the tree and the calendar.
pub const CURRENT: &str = "current";

/// The largest text a version may hold (a whole city's tree is a few hundred KB of TOML).
pub const MAX_TEXT: usize = 8 << 20;

const VERSIONS: &str = "versions";

/// Which organisation-wide document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrgDocKind {
    /// The organisation tree (units, names, levels, kinds).
    Tree,
    /// The screening rule set, one version per effective date.
    Rules,
    /// The holiday calendar for working-day arithmetic.
    Calendar,
}

impl OrgDocKind {
    /// Every kind.
    pub const ALL: &'static [OrgDocKind] =
        &[OrgDocKind::Tree, OrgDocKind::Rules, OrgDocKind::Calendar];

    /// The stored name (`tree`, `rules`, `calendar`).
    pub fn key(self) -> &'static str {
        match self {
            OrgDocKind::Tree => "tree",
            OrgDocKind::Rules => "rules",
            OrgDocKind::Calendar => "calendar",
        }
    }

    /// The kind with that name.
    pub fn from_key(key: &str) -> Option<OrgDocKind> {
        OrgDocKind::ALL.iter().copied().find(|k| k.key() == key)
    }

    /// The document id: the first 16 bytes of SHA-256 over `b"rollmesh/org/v1\0"` and the name.
    pub fn id(self) -> [u8; 16] {
        let mut h = Sha256::new();
        h.update(ORG_KIND.as_bytes());
        h.update([0u8]);
        h.update(self.key().as_bytes());
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        id
    }

    /// The kind whose document id this is. The three ids are computed once: the store asks this of
    /// every change it applies.
    pub fn from_id(id: &[u8; 16]) -> Option<OrgDocKind> {
        static IDS: std::sync::OnceLock<[(OrgDocKind, [u8; 16]); 3]> = std::sync::OnceLock::new();
        let ids = IDS.get_or_init(|| {
            [
                (OrgDocKind::Tree, OrgDocKind::Tree.id()),
                (OrgDocKind::Rules, OrgDocKind::Rules.id()),
                (OrgDocKind::Calendar, OrgDocKind::Calendar.id()),
            ]
        });
        ids.iter().find(|(_, i)| i == id).map(|(k, _)| *k)
    }

    /// The actor of the genesis change. No node may author anything else with it.
    pub fn genesis_actor(self) -> ActorId {
        ActorId::from(self.id())
    }
}

impl fmt::Display for OrgDocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Why an organisation-wide document could not be created, edited or read.
#[derive(Debug, thiserror::Error)]
pub enum OrgDocError {
    /// Automerge refused an operation.
    #[error("automerge: {0}")]
    Automerge(#[from] AutomergeError),
    /// The document is not this organisation-wide document.
    #[error("document is not the organisation's {0}")]
    NotThisDocument(OrgDocKind),
    /// A version key that is neither a date (rules) nor `current` (tree, calendar).
    #[error("{kind}: version {key:?} is not {expected}")]
    VersionKey {
        /// The document.
        kind: OrgDocKind,
        /// The key given.
        key: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A text over [`MAX_TEXT`] bytes.
    #[error("text of {0} bytes is too large")]
    TooLarge(usize),
    /// The genesis actor may not edit.
    #[error("the genesis actor may not author edits")]
    GenesisActor,
}

/// A loaded organisation-wide document.
#[derive(Debug, Clone)]
pub struct OrgDoc {
    kind: OrgDocKind,
    doc: Automerge,
    versions: ObjId,
}

impl OrgDoc {
    /// The document as its genesis change makes it, and that change (the same bytes at every node).
    pub fn genesis(kind: OrgDocKind) -> Result<(OrgDoc, Change), OrgDocError> {
        let mut doc = Automerge::new().with_actor(kind.genesis_actor());
        doc.transact_with::<_, _, AutomergeError, _>(
            |_| {
                CommitOptions::default()
                    .with_message("genesis")
                    .with_time(0)
            },
            |tx| {
                tx.put(ROOT, "kind", ORG_KIND)?;
                tx.put(ROOT, "name", kind.key())?;
                tx.put_object(ROOT, VERSIONS, ObjType::Map)?;
                Ok(())
            },
        )
        .map_err(|f| f.error)?;
        let change = doc
            .get_last_local_change()
            .ok_or(OrgDocError::NotThisDocument(kind))?;
        Ok((OrgDoc::from_doc(kind, doc)?, change))
    }

    /// Wraps a document after checking it is `kind`'s, grown from its genesis.
    pub fn from_doc(kind: OrgDocKind, doc: Automerge) -> Result<OrgDoc, OrgDocError> {
        let versions = check(kind, &doc)?;
        Ok(OrgDoc {
            kind,
            doc,
            versions,
        })
    }

    /// Which document.
    pub fn kind(&self) -> OrgDocKind {
        self.kind
    }

    /// The underlying document.
    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    /// Consumes it, returning the document.
    pub fn into_doc(self) -> Automerge {
        self.doc
    }

    /// Puts `text` under the version `key` as one change by `actor`; `None` when it is already there.
    pub fn publish(
        &mut self,
        actor: ActorId,
        key: &str,
        text: &str,
        time: i64,
    ) -> Result<Option<Change>, OrgDocError> {
        if actor == self.kind.genesis_actor() {
            return Err(OrgDocError::GenesisActor);
        }
        check_key(self.kind, key)?;
        if text.len() > MAX_TEXT {
            return Err(OrgDocError::TooLarge(text.len()));
        }
        let all = self.doc.get_all(&self.versions, key)?;
        if all.len() == 1 && all[0].0.as_str() == Some(text) {
            return Ok(None);
        }
        self.doc.set_actor(actor);
        let obj = self.versions.clone();
        self.doc
            .transact_with::<_, _, AutomergeError, _>(
                |_| {
                    CommitOptions::default()
                        .with_message(format!("{} {key}", self.kind))
                        .with_time(time)
                },
                |tx| {
                    tx.put(&obj, key, text)?;
                    Ok(())
                },
            )
            .map_err(|f| f.error)?;
        Ok(self.doc.get_last_local_change())
    }

    /// Every version, by key, in key order (rules: oldest effective date first).
    pub fn versions(&self) -> Vec<(String, String)> {
        versions(&self.doc, &self.versions)
    }

    /// The text under [`CURRENT`] (tree, calendar).
    pub fn current(&self) -> Option<String> {
        self.versions()
            .into_iter()
            .find(|(k, _)| k == CURRENT)
            .map(|(_, t)| t)
    }

    /// The rule-set version in force on `day`: the one with the latest effective date not after it.
    pub fn in_force(&self, day: NaiveDate) -> Option<(NaiveDate, String)> {
        self.versions()
            .into_iter()
            .filter_map(|(k, t)| Some((NaiveDate::parse_from_str(&k, "%Y-%m-%d").ok()?, t)))
            .filter(|(d, _)| *d <= day)
            .max_by_key(|(d, _)| *d)
    }
}

/// The versions of a document that should be `kind`'s, without taking it (the store's projection).
pub fn versions_of(
    kind: OrgDocKind,
    doc: &Automerge,
) -> Result<Vec<(String, String)>, OrgDocError> {
    let obj = check(kind, doc)?;
    Ok(versions(doc, &obj))
}

fn versions(doc: &Automerge, obj: &ObjId) -> Vec<(String, String)> {
    doc.map_range(obj, ..)
        .filter_map(|item| {
            let text = str_ref(&item.value)?.to_string();
            Some((item.key.to_string(), text))
        })
        .collect()
}

fn str_ref<'a>(v: &'a automerge::ValueRef<'_>) -> Option<&'a str> {
    match v {
        automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => Some(s.as_ref()),
        _ => None,
    }
}

fn check_key(kind: OrgDocKind, key: &str) -> Result<(), OrgDocError> {
    let ok = match kind {
        OrgDocKind::Rules => NaiveDate::parse_from_str(key, "%Y-%m-%d")
            .is_ok_and(|d| d.format("%Y-%m-%d").to_string() == key),
        OrgDocKind::Tree | OrgDocKind::Calendar => key == CURRENT,
    };
    if ok {
        Ok(())
    } else {
        Err(OrgDocError::VersionKey {
            kind,
            key: key.to_string(),
            expected: match kind {
                OrgDocKind::Rules => "an effective date YYYY-MM-DD",
                _ => "\"current\"",
            },
        })
    }
}

/// Checks `kind` and `name` and that `versions` is the genesis change's map; returns the map.
fn check(kind: OrgDocKind, doc: &Automerge) -> Result<ObjId, OrgDocError> {
    let wrong = || OrgDocError::NotThisDocument(kind);
    let scalar = |key: &str| match doc.get(ROOT, key) {
        Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
        _ => None,
    };
    if !matches!(scalar("kind"), Some(ScalarValue::Str(k)) if k.as_str() == ORG_KIND) {
        return Err(wrong());
    }
    if !matches!(scalar("name"), Some(ScalarValue::Str(n)) if n.as_str() == kind.key()) {
        return Err(wrong());
    }
    let genesis = kind.genesis_actor();
    let all = doc.get_all(ROOT, VERSIONS)?;
    let versions = match all.as_slice() {
        [(Value::Object(ObjType::Map), obj @ ObjId::Id(_, actor, _))] if *actor == genesis => {
            obj.clone()
        }
        _ => return Err(wrong()),
    };
    // Every version key must be one the document allows, and every value a text.
    for item in doc.map_range(&versions, ..) {
        check_key(kind, &item.key)?;
        if str_ref(&item.value).is_none() {
            return Err(wrong());
        }
    }
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(n: u8) -> ActorId {
        ActorId::from([n; 32])
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn genesis_is_the_same_everywhere_and_kinds_have_distinct_ids() {
        let (_, a) = OrgDoc::genesis(OrgDocKind::Rules).expect("a");
        let (_, b) = OrgDoc::genesis(OrgDocKind::Rules).expect("b");
        assert_eq!(a.raw_bytes(), b.raw_bytes());
        let ids: std::collections::BTreeSet<_> = OrgDocKind::ALL.iter().map(|k| k.id()).collect();
        assert_eq!(ids.len(), 3);
        for k in OrgDocKind::ALL {
            assert_eq!(OrgDocKind::from_id(&k.id()), Some(*k));
        }
    }

    #[test]
    fn the_rules_in_force_are_the_latest_not_after_the_day() {
        let (mut r, _) = OrgDoc::genesis(OrgDocKind::Rules).expect("genesis");
        r.publish(actor(1), "2024-01-01", "old", 1).expect("old");
        r.publish(actor(1), "2026-01-01", "new", 2).expect("new");
        assert_eq!(r.in_force(d(2023, 12, 31)), None);
        assert_eq!(r.in_force(d(2025, 6, 1)).map(|v| v.1), Some("old".into()));
        assert_eq!(r.in_force(d(2026, 1, 1)).map(|v| v.1), Some("new".into()));
        assert!(r
            .publish(actor(1), "2026-01-01", "new", 3)
            .expect("same")
            .is_none());
        assert!(matches!(
            r.publish(actor(1), "next year", "x", 4),
            Err(OrgDocError::VersionKey { .. })
        ));
        assert!(matches!(
            r.publish(OrgDocKind::Rules.genesis_actor(), "2027-01-01", "x", 4),
            Err(OrgDocError::GenesisActor)
        ));
    }

    #[test]
    fn a_document_of_another_kind_or_with_a_stray_key_is_refused() {
        let (mut cal, _) = OrgDoc::genesis(OrgDocKind::Calendar).expect("genesis");
        cal.publish(actor(2), CURRENT, "holidays = []", 1)
            .expect("publish");
        let doc = cal.clone().into_doc();
        assert!(OrgDoc::from_doc(OrgDocKind::Tree, doc.clone()).is_err());
        assert_eq!(
            versions_of(OrgDocKind::Calendar, &doc).expect("versions"),
            vec![(CURRENT.to_string(), "holidays = []".to_string())]
        );
        // A key put around `publish` makes the document invalid.
        let mut raw = doc;
        raw.set_actor(actor(3));
        let obj = match raw.get(ROOT, VERSIONS).expect("get") {
            Some((_, id)) => id,
            None => panic!("versions"),
        };
        let mut tx = raw.transaction();
        tx.put(&obj, "2025-01-01", "x").expect("put");
        tx.commit();
        assert!(OrgDoc::from_doc(OrgDocKind::Calendar, raw).is_err());
    }
}
