//! Property: random edits on 2–4 replicas (real sled stores, real keys), exchanged as bundles in random
//! order with random duplication, always converge to identical heads and identical projections.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rollmesh_model::{Dossier, DossierEdit, Field, MemberId, UnitPath};
use rollmesh_proto::{
    actor_for, BundleReader, BundleWriter, DocKind, NodeKey, SignedChange, TAG_CHANGE,
};
use rollmesh_store::Store;

#[derive(Clone, Debug)]
enum Op {
    Create {
        replica: usize,
    },
    Edit {
        replica: usize,
        member: usize,
        field: usize,
        value: usize,
    },
    Sync {
        from: usize,
        to: usize,
        since_all: bool,
    },
}

const FIELDS: [Field; 4] = [
    Field::Phone,
    Field::Workplace,
    Field::CurrentResidence,
    Field::Status,
];
const VALUES: [[&str; 3]; 4] = [
    ["0912345678", "0987654321", "0243123456"],
    [
        "Đại học Bách khoa",
        "UBND phường Kim Mã",
        "Công ty Thăng Long",
    ],
    ["Số 1 Hàng Bài", "Ngõ 5 Láng Hạ", "Thôn Đông, Sóc Sơn"],
    ["official", "probationary", "exempted"],
];

fn op_strategy(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..n).prop_map(|replica| Op::Create { replica }),
        4 => (0..n, 0..8usize, 0..4usize, 0..3usize)
            .prop_map(|(replica, member, field, value)| Op::Edit { replica, member, field, value }),
        2 => (0..n, 0..n, any::<bool>()).prop_map(|(from, to, since_all)| Op::Sync { from, to, since_all }),
    ]
}

struct Replica {
    _dir: tempfile::TempDir,
    key: NodeKey,
    store: Store,
    synced_to: BTreeMap<usize, u64>,
}

fn unit() -> UnitPath {
    UnitPath::parse("hn.d01.w01.c01").expect("unit")
}

fn local(r: &Replica, id: MemberId, change: &automerge::Change) {
    let vc = SignedChange::sign(&r.key, DocKind::Member, id, change.raw_bytes())
        .verify()
        .expect("own change verifies");
    r.store.apply(vec![vc], "local").expect("apply");
}

/// Exports `from`'s log (all of it, or since the last sync to `to`) as a real bundle, shuffles and
/// duplicates the records, and imports them at `to`.
fn sync(replicas: &mut [Replica], from: usize, to: usize, since_all: bool, rng: &mut impl Rng) {
    if from == to {
        return;
    }
    let since = if since_all {
        0
    } else {
        *replicas[from].synced_to.get(&to).unwrap_or(&0)
    };
    let changes = replicas[from]
        .store
        .changes_since(since, usize::MAX)
        .expect("log");
    let mut records: Vec<SignedChange> = changes.iter().map(|(_, c)| c.clone()).collect();
    let dups: Vec<SignedChange> = records
        .iter()
        .filter(|_| rng.gen_bool(0.3))
        .cloned()
        .collect();
    records.extend(dups);
    records.shuffle(rng);
    let mut w = BundleWriter::new(Vec::new()).expect("bundle");
    for c in &records {
        w.push_change(c).expect("push");
    }
    let bytes = w.finish().expect("finish");
    let parsed = BundleReader::parse(&bytes).expect("parse");
    assert!(parsed.complete);
    let envs: Vec<SignedChange> = parsed
        .records
        .into_iter()
        .filter(|r| r.tag == TAG_CHANGE)
        .map(|r| SignedChange::decode(r.body).expect("envelope"))
        .collect();
    let verified: Vec<_> = SignedChange::verify_many(&envs)
        .into_iter()
        .map(|r| r.expect("all genuine"))
        .collect();
    replicas[to].store.apply(verified, "bundle").expect("apply");
    let last = changes.last().map(|(s, _)| *s).unwrap_or(since);
    replicas[from].synced_to.insert(to, last);
}

fn run(n: usize, ops: Vec<Op>, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut replicas: Vec<Replica> = (0..n)
        .map(|_| {
            let dir = tempfile::tempdir().expect("tmp");
            let key = NodeKey::generate();
            let store = Store::create(dir.path(), unit(), key.public()).expect("store");
            Replica {
                _dir: dir,
                key,
                store,
                synced_to: BTreeMap::new(),
            }
        })
        .collect();
    let mut members: Vec<MemberId> = Vec::new();
    for (t, op) in ops.into_iter().enumerate() {
        match op {
            Op::Create { replica } => {
                let r = &replicas[replica];
                let id = MemberId::new(0, rand::random());
                let mut f = BTreeMap::new();
                f.insert(Field::FullName, format!("Nguyễn Văn {}", members.len()));
                f.insert(Field::Unit, unit().to_string());
                let (_, c) = Dossier::create(id, actor_for(&r.key.public()), f, vec![], t as i64)
                    .expect("create");
                local(r, id, &c);
                members.push(id);
            }
            Op::Edit {
                replica,
                member,
                field,
                value,
            } => {
                if members.is_empty() {
                    continue;
                }
                let r = &replicas[replica];
                let id = members[member % members.len()];
                let Some(mut d) = r.store.dossier(&id).expect("read") else {
                    continue;
                };
                let mut e = DossierEdit::default();
                e.set
                    .insert(FIELDS[field], VALUES[field][value].to_string());
                if let Some(c) = d
                    .edit(actor_for(&r.key.public()), &e, t as i64)
                    .expect("edit")
                {
                    local(r, id, &c);
                }
            }
            Op::Sync {
                from,
                to,
                since_all,
            } => sync(&mut replicas, from, to, since_all, &mut rng),
        }
    }
    // Heal: everyone exchanges with everyone until nothing is left to move.
    for _ in 0..2 {
        for from in 0..n {
            for to in 0..n {
                sync(&mut replicas, from, to, false, &mut rng);
            }
        }
    }
    for id in &members {
        let reference = replicas[0]
            .store
            .dossier(id)
            .expect("read")
            .expect("present everywhere");
        let heads = reference.doc().get_heads();
        let record = replicas[0].store.record(id).expect("read");
        for r in &replicas[1..] {
            let d = r
                .store
                .dossier(id)
                .expect("read")
                .expect("present everywhere");
            assert_eq!(d.doc().get_heads(), heads, "heads differ for {id}");
            assert_eq!(
                r.store.record(id).expect("read"),
                record,
                "projection differs for {id}"
            );
        }
    }
    for r in &replicas {
        assert_eq!(r.store.pending_count(), 0);
        let v = r.store.verify().expect("verify");
        assert!(v.is_clean(), "{:?}", v.problems);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn replicas_converge(
        (n, ops) in (2usize..=4).prop_flat_map(|n| (Just(n), prop::collection::vec(op_strategy(n), 1..30))),
        seed in any::<u64>(),
    ) {
        run(n, ops, seed);
    }
}
