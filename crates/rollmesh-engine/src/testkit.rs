//! Shared fixtures for the engine's unit tests: a five-unit organisation (city > district > ward > two
//! cells) bootstrapped into a temporary directory with [`crate::org::bootstrap`] — real keys, real
//! credentials, real sled stores — and helpers to sign changes as any of its keys, including changes the
//! node API would refuse to make (a cell writing outside its unit).

use std::collections::{BTreeMap, HashMap};

use rollmesh_model::{Dossier, DossierEdit, Field, MemberId, MemberRecord, OrgTree, UnitPath};
use rollmesh_proto::{
    actor_for, Chain, DocKind, NodeKey, NodePublicKey, SignedChange, VerifiedChange,
};
use rollmesh_sync::{Record, RecordKind};

use crate::org::{bootstrap, unit_dir};
use crate::Node;

pub(crate) const CITY: &str = "hn";
pub(crate) const WARD: &str = "hn.d01.w01";
pub(crate) const C1: &str = "hn.d01.w01.c01";
pub(crate) const C2: &str = "hn.d01.w01.c02";

/// The smallest tree with every level of the demo: one district, one ward, two cells.
pub(crate) const TINY_TREE: &str = r#"
name = "Test organisation"

[[levels]]
key = "city"
name_vi = "Thành phố"
name_en = "City"

[[levels]]
key = "district"
name_vi = "Quận/Huyện"
name_en = "District"

[[levels]]
key = "ward"
name_vi = "Phường/Xã"
name_en = "Ward/Commune"

[[levels]]
key = "cell"
name_vi = "Chi bộ"
name_en = "Cell"

[[units]]
path = "hn"
name = "Thành ủy"

[[units]]
path = "hn.d01"
name = "Quận 1"

[[units]]
path = "hn.d01.w01"
name = "Phường 1"

[[units]]
path = "hn.d01.w01.c01"
name = "Chi bộ 1"

[[units]]
path = "hn.d01.w01.c02"
name = "Chi bộ 2"
"#;

pub(crate) fn u(s: &str) -> UnitPath {
    UnitPath::parse(s).expect("unit path")
}

/// A bootstrapped organisation. Nodes are opened on demand (sled allows one handle per directory, so a
/// test holds at most one [`Node`] per unit); every unit's key and installed chain are kept at hand.
pub(crate) struct Org {
    dir: tempfile::TempDir,
    /// The organisation's root key.
    pub root: NodeKey,
    seeds: HashMap<String, [u8; 32]>,
    chains: HashMap<String, Chain>,
}

impl Org {
    pub fn new() -> Org {
        let dir = tempfile::tempdir().expect("temp dir");
        let tree = OrgTree::from_toml(TINY_TREE).expect("tree");
        let (root, units) = bootstrap(&tree, dir.path(), 30).expect("bootstrap");
        assert_eq!(units.len(), 5);
        let mut seeds = HashMap::new();
        let mut chains = HashMap::new();
        for b in units {
            let n = Node::open(&b.data).expect("open");
            seeds.insert(b.unit.to_string(), n.key_seed());
            chains.insert(
                b.unit.to_string(),
                n.own_chain().expect("read chain").expect("installed chain"),
            );
        }
        Org {
            dir,
            root,
            seeds,
            chains,
        }
    }

    /// Opens the node of `unit`.
    pub fn open(&self, unit: &str) -> Node {
        Node::open(&unit_dir(self.dir.path(), &u(unit))).expect("open node")
    }

    /// The node key of `unit`.
    pub fn key(&self, unit: &str) -> NodeKey {
        NodeKey::from_seed(self.seeds[unit])
    }

    pub fn public(&self, unit: &str) -> NodePublicKey {
        self.key(unit).public()
    }

    /// The chain installed at `unit` (root → ... → unit).
    pub fn chain(&self, unit: &str) -> Chain {
        self.chains[unit].clone()
    }

    pub fn chain_record(&self, unit: &str) -> Record {
        Record::chain(self.chain(unit).encode())
    }

    /// A scratch path inside the organisation's directory.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

pub(crate) fn fields(name: &str, unit: &str) -> BTreeMap<Field, String> {
    let mut f = BTreeMap::new();
    f.insert(Field::FullName, name.to_string());
    f.insert(Field::Unit, unit.to_string());
    f
}

/// The fields of a member of `unit` admitted on `admitted` (`YYYY-MM-DD`).
pub(crate) fn admitted(name: &str, unit: &str, admitted: &str) -> BTreeMap<Field, String> {
    let mut f = fields(name, unit);
    f.insert(Field::AdmissionDate, admitted.to_string());
    f
}

/// The creation change of a new member of `unit` signed by `key`, whatever that key's credential allows.
pub(crate) fn forge_member(key: &NodeKey, unit: &str, name: &str) -> (MemberId, VerifiedChange) {
    forge_member_id(key, crate::ids::new_member_id(), unit, name)
}

/// [`forge_member`] with a given id.
pub(crate) fn forge_member_id(
    key: &NodeKey,
    id: MemberId,
    unit: &str,
    name: &str,
) -> (MemberId, VerifiedChange) {
    let (_, change) = Dossier::create(
        id,
        actor_for(&key.public()),
        fields(name, unit),
        vec![],
        1_750_000_000,
    )
    .expect("dossier");
    let vc = VerifiedChange::sign_own(key, DocKind::Member, id, change).expect("sign");
    (id, vc)
}

/// An edit, signed by `key`, of a member that `holder` stores.
pub(crate) fn forge_edit(
    holder: &Node,
    key: &NodeKey,
    id: MemberId,
    edit: &DossierEdit,
) -> VerifiedChange {
    let mut d = holder
        .store()
        .dossier(&id)
        .expect("load")
        .expect("member held");
    let change = d
        .edit(actor_for(&key.public()), edit, crate::node::now())
        .expect("edit")
        .expect("the edit changes something");
    VerifiedChange::sign_own(key, DocKind::Member, id, change).expect("sign")
}

pub(crate) fn set(field: Field, value: &str) -> DossierEdit {
    let mut e = DossierEdit::default();
    e.set.insert(field, value.to_string());
    e
}

pub(crate) fn move_to(unit: &str) -> DossierEdit {
    set(Field::Unit, unit)
}

pub(crate) fn change_record(vc: &VerifiedChange) -> Record {
    Record::change(vc.envelope.as_bytes().to_vec())
}

/// A projection with a name and a unit, for policy checks.
pub(crate) fn member_record(id: MemberId, unit: &str) -> MemberRecord {
    MemberRecord {
        id,
        fields: fields("Nguyễn Văn An", unit),
        events: vec![],
        conflicted: vec![],
    }
}

/// The change records of a batch, decoded.
pub(crate) fn changes_of(records: &[Record]) -> Vec<SignedChange> {
    records
        .iter()
        .filter(|r| r.kind == RecordKind::Change)
        .map(|r| SignedChange::decode(r.body.clone()).expect("a change record decodes"))
        .collect()
}

/// The subjects of the chain records of a batch, in order.
pub(crate) fn chain_subjects(records: &[Record]) -> Vec<NodePublicKey> {
    records
        .iter()
        .filter(|r| r.kind == RecordKind::Chain)
        .map(|r| {
            Chain::decode(&r.body)
                .expect("a chain record decodes")
                .subject()
                .expect("non-empty chain")
        })
        .collect()
}

/// Asserts every change of `records` comes after a chain record of its author.
pub(crate) fn assert_chains_lead(records: &[Record]) {
    let mut seen = Vec::new();
    for r in records {
        match r.kind {
            RecordKind::Chain => seen.push(
                Chain::decode(&r.body)
                    .expect("chain")
                    .subject()
                    .expect("subject"),
            ),
            RecordKind::Change => {
                let c = SignedChange::decode(r.body.clone()).expect("change");
                assert!(
                    seen.contains(&c.author()),
                    "change by {} travels before its author's chain",
                    c.author().node_id()
                );
            }
            RecordKind::Revocation => {}
        }
    }
}

/// The reason codes in the node's quarantine, oldest first.
pub(crate) fn quarantine_codes(node: &Node) -> Vec<String> {
    node.store()
        .quarantine_list()
        .expect("quarantine")
        .into_iter()
        .map(|q| q.code)
        .collect()
}

/// Vietnamese text in Windows-1258 as Excel writes it: each letter decomposed, then its base recomposed
/// with as many of its marks as the code page holds precomposed (â, ê, ô, ơ, ư, ă, đ…), the rest
/// (the tone marks) as combining characters.
pub(crate) fn cp1258(s: &str) -> Vec<u8> {
    use unicode_normalization::UnicodeNormalization;
    let mut table = HashMap::new();
    for b in 0u8..=255 {
        let byte = [b];
        let (t, _, _) = encoding_rs::WINDOWS_1258.decode(&byte);
        if let Some(c) = t.chars().next() {
            table.entry(c).or_insert(b);
        }
    }
    let mut out = Vec::new();
    for c in s.chars() {
        let mut parts = c.to_string().nfd().collect::<Vec<char>>().into_iter();
        let Some(mut base) = parts.next() else {
            continue;
        };
        let mut marks = Vec::new();
        for m in parts {
            match unicode_normalization::char::compose(base, m) {
                Some(b) if table.contains_key(&b) => base = b,
                _ => marks.push(m),
            }
        }
        for ch in std::iter::once(base).chain(marks) {
            out.push(
                *table
                    .get(&ch)
                    .unwrap_or_else(|| panic!("no Windows-1258 form for {c:?}")),
            );
        }
    }
    out
}

/// Every change `node` stored, as records, with the chains of `authors` first: what a peer pulling the
/// node's whole log would receive.
pub(crate) fn log_records(org: &Org, node: &Node, authors: &[&str]) -> Vec<Record> {
    let mut records: Vec<Record> = authors.iter().map(|a| org.chain_record(a)).collect();
    let (entries, _) = node.store().log_since(0, 10_000).expect("log");
    records.extend(
        entries
            .into_iter()
            .map(|e| Record::change(e.change.as_bytes().to_vec())),
    );
    records
}
