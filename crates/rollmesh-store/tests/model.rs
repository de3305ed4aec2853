//! Model test of the store: random operations — create and edit members, restart a store, export a
//! replica's changes (all of them, since a random seq, or since the last checkpoint; as changes or as a
//! bundle file, shuffled, duplicated, split over several apply calls, with a forged record, cut short)
//! and import them into another replica, quarantine junk — run against 1–3 real sled stores in temp
//! dirs and checked after every operation against a simple in-memory model: the set of changes each
//! replica has received and applied, the change log it must hold, its quarantine count and checkpoints.
//! Projections and state hashes are compared with documents rebuilt from the model's own copy of the
//! changes, and across replicas that hold the same changes.
//!
//! Everything is derived from a u64 seed through ChaCha8 (keys from fixed seeds, member ids built from
//! their index, change times from the op index), so a failure replays exactly:
//!
//! ```text
//! MODEL_SEED=<n> cargo test -p rollmesh-store --test model
//! ```
//!
//! `MODEL_SEEDS=<count>` (default 200) and `MODEL_SEED_START=<n>` (default 0) pick the seeds of the
//! sweep. A failing case is shrunk and printed as an op list to paste into a `regression_*` test.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ChangeHash};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rollmesh_model::{
    Dossier, DossierEdit, Event, EventKind, Field, MemberId, MemberRecord, UnitPath,
};
use rollmesh_proto::{
    actor_for, BundleReader, BundleWriter, DocKind, NodeKey, SignedChange, VerifiedChange,
    TAG_CHANGE,
};
use rollmesh_store::{state_hash, AcceptAll, ApplyReport, Store, StoreError};

// ---------------------------------------------------------------------------------------------------
// Operations

/// One step of a case. Indices (`replica`, `member`, `field`, ...) are taken modulo what exists when the
/// step runs, so any sub-list of a case is itself a valid case (which is what shrinking relies on).
#[derive(Clone, Debug)]
enum Op {
    /// The replica creates the next member; `built`: stored through `apply_created` with the document
    /// its author built (as the node does), otherwise through `apply`.
    Create {
        replica: usize,
        name: usize,
        built: bool,
    },
    /// The replica edits a member it holds, building the change on the dossier the store gives it.
    Edit {
        replica: usize,
        member: usize,
        edit: EditKind,
    },
    /// Drop the store and open it again from its directory.
    Restart { replica: usize },
    /// Take `from`'s changes and import them into `to`.
    Export(Ex),
    /// The replica receives a validly signed change that is not a valid dossier (`wrong_id`: a dossier
    /// sent under another member's id): it must be quarantined.
    Junk { replica: usize, wrong_id: bool },
}

/// An export from one replica and its import into another (or the same).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ex {
    from: usize,
    to: usize,
    since: Since,
    via: Via,
    /// Shuffle the records with this seed.
    shuffle: Option<u64>,
    /// Repeat every other record.
    dup: bool,
    /// Apply in this many calls (1–3); the later calls may release changes that wait.
    chunks: usize,
    /// Flip a signature byte of record `i % len`: it must be quarantined, not applied.
    forge: Option<usize>,
    /// Page size for reading the log with `log_since`.
    page: usize,
    /// Apply through `prepare` + `commit` (as a sync connection does) instead of `apply`.
    pipelined: bool,
    /// Restart `from` right after reading its log.
    reopen_from: bool,
    /// Restart `to` between the first and the second apply call.
    reopen_to_mid: bool,
}

#[derive(Clone, Copy, Debug)]
enum EditKind {
    SetField { field: usize, value: usize },
    ClearField { field: usize },
    AddEvent { detail: usize },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Since {
    Everything,
    /// `n % (last_seq + 1)`.
    AfterSeq(u64),
    /// The checkpoint `to` keeps for `from` (0 when none or another index id); after a complete,
    /// clean import the checkpoint is set to the last seq exported.
    AfterCheckpoint,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    /// The envelopes themselves.
    Envelopes,
    /// A bundle file written and read back.
    Bundle,
    /// A bundle file cut short at byte `9 + n % (len - 9)`: the records before the cut are imported.
    CutBundle(u64),
}

use EditKind::*;
use Op::*;
use Since::*;
use Via::*;

#[derive(Clone, Debug)]
struct Case {
    replicas: usize,
    ops: Vec<Op>,
}

const NAMES: [&str; 6] = [
    "Nguyễn Văn An",
    "Trần Thị Hoa",
    "Lê Hoàng Long",
    "Phạm Minh Châu",
    "Đặng Thuỳ Trâm",
    "Hồ Xuân Hương",
];

/// Fields an edit sets, with their (normalised) values.
const SET: [(Field, [&str; 3]); 8] = [
    (Field::Phone, ["0912345678", "0987654321", "+84243123456"]),
    (
        Field::Workplace,
        [
            "Đại học Bách khoa Hà Nội",
            "UBND phường Kim Mã",
            "Công ty Thăng Long",
        ],
    ),
    (
        Field::CurrentResidence,
        [
            "Số 1 Hàng Bài, Hoàn Kiếm",
            "Ngõ 5 Láng Hạ",
            "Thôn Đông, xã Xuân Thu, Sóc Sơn",
        ],
    ),
    (
        Field::Hometown,
        ["Nghệ An", "Thừa Thiên Huế", "Bà Rịa – Vũng Tàu"],
    ),
    (
        Field::FullName,
        ["Nguyễn Thị Thuỷ", "Trần Đức Lương", "Lê Văn Việt"],
    ),
    (Field::Status, ["official", "probationary", "exempted"]),
    (Field::Sector, ["teacher", "worker", "retired"]),
    (
        Field::Unit,
        ["hn.d01.w01.c01", "hn.d01.w01.c02", "hn.d02.w03.c01"],
    ),
];

/// Fields an edit may clear (not the required ones).
const CLEAR: [Field; 4] = [
    Field::Phone,
    Field::Workplace,
    Field::Hometown,
    Field::Sector,
];

const DETAILS: [&str; 3] = [
    "Hoàn thành xuất sắc nhiệm vụ",
    "Chuyển sinh hoạt từ Đảng bộ phường Ô Chợ Dừa",
    "Huy hiệu 30 năm tuổi Đảng",
];

fn gen_case(seed: u64) -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let replicas = rng.gen_range(1..=3);
    let len = rng.gen_range(5..=60);
    let mut ops = vec![Create {
        replica: 0,
        name: rng.gen_range(0..NAMES.len()),
        built: rng.gen_bool(0.5),
    }];
    while ops.len() < len {
        ops.push(gen_op(&mut rng, replicas));
    }
    Case { replicas, ops }
}

fn gen_op(rng: &mut ChaCha8Rng, n: usize) -> Op {
    let replica = rng.gen_range(0..n);
    match rng.gen_range(0..100) {
        0..=11 => Create {
            replica,
            name: rng.gen_range(0..NAMES.len()),
            built: rng.gen_bool(0.5),
        },
        12..=59 => Edit {
            replica,
            // Half the edits go to the first member, so some documents grow past COMPACT_AT.
            member: if rng.gen_bool(0.5) {
                0
            } else {
                rng.gen_range(0..8)
            },
            edit: match rng.gen_range(0..10) {
                0 => ClearField {
                    field: rng.gen_range(0..CLEAR.len()),
                },
                1 => AddEvent {
                    detail: rng.gen_range(0..DETAILS.len()),
                },
                _ => SetField {
                    field: rng.gen_range(0..SET.len()),
                    value: rng.gen_range(0..3),
                },
            },
        },
        60..=68 => Restart { replica },
        69..=96 => Export(Ex {
            from: rng.gen_range(0..n),
            to: rng.gen_range(0..n),
            since: match rng.gen_range(0..3) {
                0 => Everything,
                1 => AfterSeq(rng.gen_range(0..64)),
                _ => AfterCheckpoint,
            },
            via: match rng.gen_range(0..10) {
                0..=3 => Envelopes,
                4..=8 => Bundle,
                _ => CutBundle(rng.gen()),
            },
            shuffle: rng.gen_bool(0.6).then(|| rng.gen()),
            dup: rng.gen_bool(0.3),
            chunks: rng.gen_range(1..=3),
            forge: rng.gen_bool(0.1).then(|| rng.gen_range(0..64)),
            page: rng.gen_range(1..=40),
            pipelined: rng.gen_bool(0.3),
            reopen_from: rng.gen_bool(0.1),
            reopen_to_mid: rng.gen_bool(0.15),
        }),
        _ => Junk {
            replica,
            wrong_id: rng.gen_bool(0.5),
        },
    }
}

// ---------------------------------------------------------------------------------------------------
// Deterministic identities

fn node_key(replica: usize) -> NodeKey {
    NodeKey::from_seed([0x11u8.wrapping_mul(replica as u8 + 1); 32])
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `MemberId::random` reads the clock and the OS RNG; the field is public, so ids are built from their
/// index instead: a fixed "creation time" in the first 6 bytes, then 10 bytes mixed from the index.
fn member_id(i: usize, space: u8) -> MemberId {
    let mut b = [0u8; 16];
    let ms = 1_700_000_000_000u64 + i as u64;
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6..14].copy_from_slice(&splitmix(i as u64 ^ ((space as u64) << 56)).to_be_bytes());
    b[14] = space;
    b[15] = i as u8;
    MemberId(b)
}

fn store_unit() -> UnitPath {
    UnitPath::parse("hn").expect("unit")
}

type Hash = [u8; 32];

fn hash_of(vc: &VerifiedChange) -> Hash {
    vc.hash()
}

// ---------------------------------------------------------------------------------------------------
// The model

/// A change the case has made (junk excluded), as the model keeps it.
struct Known {
    member: MemberId,
    deps: Vec<Hash>,
    envelope: SignedChange,
    change: automerge::Change,
}

#[derive(Default)]
struct ReplicaModel {
    /// Changes delivered to the store, applied or waiting.
    received: HashSet<Hash>,
    /// Changes the store must hold.
    applied: HashSet<Hash>,
    /// The store's change log: seq → change.
    log: BTreeMap<u64, Hash>,
    /// Quarantined changes.
    quarantined: usize,
    /// Checkpoint kept for each peer replica: (its index id, seq).
    checkpoints: BTreeMap<usize, (u64, u64)>,
    /// The store's index id (it never rotates here).
    index_id: u64,
}

impl ReplicaModel {
    fn pending(&self) -> usize {
        self.received.len() - self.applied.len()
    }
}

struct Replica {
    dir: tempfile::TempDir,
    key: NodeKey,
    store: Option<Store>,
}

impl Replica {
    fn store(&self) -> &Store {
        self.store.as_ref().expect("store is open")
    }

    /// Drops the store and opens it again; returns how many times the reopen found the directory still
    /// locked. Under CPU load sled's background IO threads can keep the locked file open for a few
    /// milliseconds after the `Db` is dropped, and `Store::open` then reports `Locked` ("in use by
    /// another rollmesh process") although nothing else holds the store: retried for up to 2 s.
    fn restart(&mut self) -> usize {
        drop(self.store.take());
        let started = std::time::Instant::now();
        let mut locked = 0;
        loop {
            match Store::open(self.dir.path()) {
                Ok(s) => {
                    self.store = Some(s);
                    return locked;
                }
                Err(StoreError::Locked) if started.elapsed().as_secs() < 2 => {
                    locked += 1;
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(e) => panic!("reopen: {e}"),
            }
        }
    }
}

/// What an oracle rebuild of one member's document gives.
#[derive(Clone)]
struct Expected {
    record: MemberRecord,
    state: Hash,
    heads: Vec<ChangeHash>,
}

/// How much of the interesting ground a run covered (summed over a sweep, and checked there).
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    /// Changes an apply call left waiting for their dependencies.
    waited: usize,
    /// Changes applied by a call they were not part of (released from the waiting list).
    released: usize,
    /// Restarts of a store that held waiting changes.
    restarts_waiting: usize,
    /// Cases where some document grew past `COMPACT_AT` changes.
    compacted: usize,
    /// Projections seen with conflicting field values.
    conflicted: usize,
    /// Exports resumed from a non-zero checkpoint.
    resumed: usize,
    /// Forged records quarantined.
    forged: usize,
    /// Imports of bundles cut short.
    cut: usize,
    /// Junk changes quarantined.
    junk: usize,
    /// Reopens that first found the directory still locked by the dropped store (see `restart`).
    locked_reopens: usize,
}

impl Stats {
    fn add(&mut self, o: Stats) {
        self.waited += o.waited;
        self.released += o.released;
        self.restarts_waiting += o.restarts_waiting;
        self.compacted += o.compacted;
        self.conflicted += o.conflicted;
        self.resumed += o.resumed;
        self.forged += o.forged;
        self.cut += o.cut;
        self.junk += o.junk;
        self.locked_reopens += o.locked_reopens;
    }
}

struct World {
    stats: Stats,
    replicas: Vec<Replica>,
    models: Vec<ReplicaModel>,
    known: HashMap<Hash, Known>,
    members: Vec<MemberId>,
    junk: usize,
    scratch: tempfile::TempDir,
    bundles: usize,
    /// Oracle results by (member, sorted change set).
    oracle: HashMap<(MemberId, Vec<Hash>), Expected>,
    /// The current op, for messages.
    step: usize,
}

impl World {
    fn new(n: usize) -> World {
        let mut replicas = Vec::new();
        let mut models = Vec::new();
        for r in 0..n {
            let dir = tempfile::tempdir().expect("tmp");
            let key = node_key(r);
            let store = Store::create(dir.path(), store_unit(), key.public()).expect("create");
            models.push(ReplicaModel {
                index_id: store.index_id(),
                ..ReplicaModel::default()
            });
            replicas.push(Replica {
                dir,
                key,
                store: Some(store),
            });
        }
        World {
            replicas,
            models,
            known: HashMap::new(),
            members: Vec::new(),
            junk: 0,
            scratch: tempfile::tempdir().expect("tmp"),
            bundles: 0,
            oracle: HashMap::new(),
            step: 0,
            stats: Stats::default(),
        }
    }

    fn learn(&mut self, vc: &VerifiedChange) -> Hash {
        let h = hash_of(vc);
        self.known.entry(h).or_insert_with(|| Known {
            member: vc.envelope.doc(),
            deps: vc.change.deps().iter().map(|d| d.0).collect(),
            envelope: vc.envelope.clone(),
            change: vc.change.clone(),
        });
        h
    }

    /// The changes of `member` a replica's model holds, in its log order.
    fn member_log(&self, r: usize, member: MemberId) -> Vec<(u64, Hash)> {
        self.models[r]
            .log
            .iter()
            .filter(|(_, h)| self.known[*h].member == member)
            .map(|(s, h)| (*s, *h))
            .collect()
    }

    /// The document the model's own copy of these changes rebuilds to.
    fn expected(&mut self, member: MemberId, changes: &[Hash]) -> Expected {
        let mut set = changes.to_vec();
        set.sort();
        if let Some(e) = self.oracle.get(&(member, set.clone())) {
            return e.clone();
        }
        let mut doc = Automerge::new();
        doc.apply_changes(changes.iter().map(|h| self.known[h].change.clone()))
            .expect("the model's changes apply");
        let record = Dossier::record_of(member, &doc).expect("the model's document is a dossier");
        let heads = doc.get_heads();
        let e = Expected {
            record,
            state: state_hash(&heads),
            heads,
        };
        self.oracle.insert((member, set), e.clone());
        e
    }

    /// Heads of a member's document in a replica, per the model.
    fn model_heads(&self, r: usize, member: MemberId) -> BTreeSet<Hash> {
        let mine: Vec<Hash> = self
            .member_log(r, member)
            .into_iter()
            .map(|(_, h)| h)
            .collect();
        let covered: HashSet<Hash> = mine
            .iter()
            .flat_map(|h| self.known[h].deps.iter().copied())
            .collect();
        mine.into_iter().filter(|h| !covered.contains(h)).collect()
    }

    fn holds(&self, r: usize, member: MemberId) -> bool {
        self.models[r]
            .applied
            .iter()
            .any(|h| self.known[h].member == member)
    }

    /// Records what applying `chunk` (verified changes, in order, repeats included) must do to replica
    /// `r`, runs it, and checks the report against the model.
    fn apply_checked(&mut self, r: usize, chunk: Vec<VerifiedChange>, pipelined: bool) {
        let hashes: Vec<Hash> = chunk.iter().map(|vc| self.learn(vc)).collect();
        let m = &mut self.models[r];
        let mut seen = HashSet::new();
        let mut duplicates = 0;
        for h in &hashes {
            if !seen.insert(*h) || m.applied.contains(h) {
                duplicates += 1;
            }
        }
        m.received.extend(hashes.iter().copied());
        let mut newly: HashSet<Hash> = HashSet::new();
        loop {
            let ready: Vec<Hash> = m
                .received
                .iter()
                .filter(|h| !m.applied.contains(*h))
                .filter(|h| self.known[*h].deps.iter().all(|d| m.applied.contains(d)))
                .copied()
                .collect();
            if ready.is_empty() {
                break;
            }
            m.applied.extend(ready.iter().copied());
            newly.extend(ready);
        }
        let store = self.replicas[r].store();
        let report: ApplyReport = if pipelined {
            let p = store.prepare(chunk, &AcceptAll).expect("prepare");
            store.commit(p, "model").expect("commit")
        } else {
            store.apply(chunk, "model").expect("apply")
        };
        let step = self.step;
        let got: HashSet<Hash> = report.applied.iter().map(|(_, h)| *h).collect();
        assert_eq!(
            got.len(),
            report.applied.len(),
            "step {step}: replica {r}: a change applied twice in one call"
        );
        assert!(
            got == newly,
            "step {step}: replica {r}: applied {} changes, the model expects {} ({} not expected, {} missing)",
            got.len(),
            newly.len(),
            got.difference(&newly).count(),
            newly.difference(&got).count()
        );
        assert_eq!(
            report.duplicates, duplicates,
            "step {step}: replica {r}: duplicates"
        );
        assert!(
            report.rejected.is_empty() && report.skipped == 0 && report.evicted.is_empty(),
            "step {step}: replica {r}: {report:?}"
        );
        let m = &mut self.models[r];
        let first = m.log.keys().next_back().copied().unwrap_or(0) + 1;
        for (next, (seq, h)) in (first..).zip(&report.applied) {
            assert_eq!(
                *seq, next,
                "step {step}: replica {r}: log seqs are not contiguous"
            );
            // The log is in causal order: a change's dependencies are logged before it, so a peer
            // reading the log from any seq never gets a change before its dependencies.
            for d in &self.known[h].deps {
                assert!(
                    m.log.values().any(|x| x == d),
                    "step {step}: replica {r}: seq {seq} logged before its dependency"
                );
            }
            m.log.insert(*seq, *h);
        }
        let m = &self.models[r];
        self.stats.waited += seen.iter().filter(|h| !m.applied.contains(*h)).count();
        self.stats.released += newly.iter().filter(|h| !seen.contains(*h)).count();
        let touched: BTreeSet<MemberId> = report.touched.iter().copied().collect();
        let expect_touched: BTreeSet<MemberId> =
            newly.iter().map(|h| self.known[h].member).collect();
        assert_eq!(touched, expect_touched, "step {step}: replica {r}: touched");
    }

    // -----------------------------------------------------------------------------------------------
    // Running ops

    fn run_op(&mut self, op: &Op) {
        let n = self.replicas.len();
        match *op {
            Create {
                replica,
                name,
                built,
            } => {
                let r = replica % n;
                let i = self.members.len();
                let id = member_id(i, 0);
                let key = &self.replicas[r].key;
                let mut f = BTreeMap::new();
                f.insert(Field::FullName, NAMES[name % NAMES.len()].to_string());
                f.insert(Field::Unit, SET[7].1[i % 3].to_string());
                let (d, c) =
                    Dossier::create(id, actor_for(&key.public()), f, vec![], self.step as i64)
                        .expect("create");
                let vc = VerifiedChange::sign_own(key, DocKind::Member, id, c).expect("sign");
                self.members.push(id);
                if built {
                    let h = self.learn(&vc);
                    let m = &mut self.models[r];
                    m.received.insert(h);
                    m.applied.insert(h);
                    let report = self.replicas[r]
                        .store()
                        .apply_created(vec![(vc, d.into_doc())], "local")
                        .expect("apply_created");
                    let seq = m.log.keys().next_back().copied().unwrap_or(0) + 1;
                    assert_eq!(report.applied, vec![(seq, h)], "step {}", self.step);
                    m.log.insert(seq, h);
                } else {
                    self.apply_checked(r, vec![vc], false);
                }
            }
            Edit {
                replica,
                member,
                edit,
            } => {
                if self.members.is_empty() {
                    return;
                }
                let r = replica % n;
                let id = self.members[member % self.members.len()];
                let step = self.step;
                let Some(mut d) = self.replicas[r].store().dossier(&id).expect("dossier") else {
                    assert!(
                        !self.holds(r, id),
                        "step {step}: replica {r} holds {id} but has no dossier"
                    );
                    return;
                };
                // The dossier the store hands out is the current one: edits build on it.
                let heads: BTreeSet<Hash> = d.doc().get_heads().iter().map(|h| h.0).collect();
                assert_eq!(
                    heads,
                    self.model_heads(r, id),
                    "step {step}: replica {r}: dossier {id} is not the current state"
                );
                let mut e = DossierEdit::default();
                match edit {
                    SetField { field, value } => {
                        let (f, vs) = SET[field % SET.len()];
                        e.set.insert(f, vs[value % 3].to_string());
                    }
                    ClearField { field } => {
                        e.clear.insert(CLEAR[field % CLEAR.len()]);
                    }
                    AddEvent { detail } => e.events.push(Event {
                        kind: EventKind::Note,
                        date: Some(format!(
                            "20{:02}-0{}-1{}",
                            10 + step % 15,
                            1 + step % 9,
                            step % 10
                        )),
                        detail: DETAILS[detail % DETAILS.len()].to_string(),
                    }),
                }
                let key = &self.replicas[r].key;
                let Some(c) = d
                    .edit(actor_for(&key.public()), &e, step as i64)
                    .expect("edit")
                else {
                    return;
                };
                let vc = VerifiedChange::sign_own(key, DocKind::Member, id, c).expect("sign");
                self.apply_checked(r, vec![vc], false);
                // The replica's own edit wins locally.
                let rec = self.replicas[r]
                    .store()
                    .record(&id)
                    .expect("record")
                    .expect("present");
                for (f, v) in &e.set {
                    assert_eq!(rec.get(*f), Some(v.as_str()), "step {step}: edit of {f:?}");
                    assert!(!rec.conflicted.contains(f), "step {step}: {f:?} conflicted");
                }
                for f in &e.clear {
                    assert_eq!(rec.get(*f), None, "step {step}: clear of {f:?}");
                }
                if let Some(ev) = e.events.first() {
                    assert_eq!(rec.events.last(), Some(ev), "step {step}: event");
                }
            }
            Restart { replica } => self.restart(replica % n),
            Export(ex) => self.export(Ex {
                from: ex.from % n,
                to: ex.to % n,
                ..ex
            }),
            Junk { replica, wrong_id } => {
                let r = replica % n;
                let key = &self.replicas[r].key;
                let id = member_id(self.junk, 0xEE);
                self.junk += 1;
                let c = if wrong_id {
                    // A genuine dossier of another member, sent under `id`.
                    let mut f = BTreeMap::new();
                    f.insert(Field::FullName, "Vũ Thị Sai".to_string());
                    f.insert(Field::Unit, "hn.d01.w01.c01".to_string());
                    Dossier::create(
                        member_id(self.junk, 0xEF),
                        actor_for(&key.public()),
                        f,
                        vec![],
                        self.step as i64,
                    )
                    .expect("create")
                    .1
                } else {
                    let mut doc = automerge::AutoCommit::new().with_actor(actor_for(&key.public()));
                    doc.put(automerge::ROOT, "kind", "something/else")
                        .expect("put");
                    doc.commit_with(CommitOptions::default().with_time(self.step as i64));
                    doc.get_last_local_change().expect("change")
                };
                let vc = SignedChange::sign(key, DocKind::Member, id, c.raw_bytes())
                    .verify()
                    .expect("signature is fine");
                let h = vc.hash();
                let store = self.replicas[r].store();
                let report = store.apply(vec![vc], "junk").expect("apply");
                assert_eq!(
                    (report.applied.len(), report.rejected.len()),
                    (0, 1),
                    "step {}: junk",
                    self.step
                );
                assert_eq!(report.rejected[0].code.key(), "invalid_document");
                assert!(!store.has_change(&h).expect("has"));
                assert!(store.record(&id).expect("record").is_none());
                self.models[r].quarantined += 1;
                self.stats.junk += 1;
            }
        }
    }

    fn restart(&mut self, r: usize) {
        let step = self.step;
        if self.models[r].pending() > 0 {
            self.stats.restarts_waiting += 1;
        }
        let before = {
            let s = self.replicas[r].store();
            (
                s.last_seq(),
                s.index_id(),
                s.states().expect("states"),
                s.pending_count(),
                s.quarantine_count(),
                s.member_count(),
            )
        };
        let locked = self.replicas[r].restart();
        self.stats.locked_reopens += (locked > 0) as usize;
        let s = self.replicas[r].store();
        let after = (
            s.last_seq(),
            s.index_id(),
            s.states().expect("states"),
            s.pending_count(),
            s.quarantine_count(),
            s.member_count(),
        );
        assert!(
            before == after,
            "step {step}: replica {r} changed across a restart"
        );
        self.check_replica(r, true);
    }

    fn export(&mut self, ex: Ex) {
        let Ex {
            from,
            to,
            since,
            via,
            shuffle,
            dup,
            chunks,
            forge,
            page,
            pipelined,
            reopen_from,
            reopen_to_mid,
        } = ex;
        let step = self.step;
        let from_key = self.replicas[from].key.public();
        let from_index = self.replicas[from].store().index_id();
        let to_store = self.replicas[to].store();
        let cp = to_store.checkpoint(&from_key).expect("checkpoint");
        let by_checkpoint = matches!(since, AfterCheckpoint);
        let since = match since {
            Everything => 0,
            AfterSeq(s) => s % (self.replicas[from].store().last_seq() + 1),
            AfterCheckpoint => {
                if cp.0 == from_index {
                    cp.1
                } else {
                    0
                }
            }
        };
        if by_checkpoint && since > 0 {
            self.stats.resumed += 1;
        }
        if matches!(via, CutBundle(_)) {
            self.stats.cut += 1;
        }
        let src = self.replicas[from].store();
        let exported = src.changes_since(since, usize::MAX).expect("changes_since");
        // The same, read in pages with log_since.
        let mut paged = Vec::new();
        let mut cursor = since;
        loop {
            let (entries, last) = src.log_since(cursor, page.max(1)).expect("log_since");
            if entries.is_empty() {
                assert_eq!(last, cursor, "step {step}: an empty page moved the cursor");
                break;
            }
            assert_eq!(
                last,
                entries.last().map(|e| e.seq).unwrap_or(cursor),
                "step {step}"
            );
            paged.extend(entries.into_iter().map(|e| (e.seq, e.change)));
            cursor = last;
        }
        let m = &self.models[from];
        let expect: Vec<(u64, Hash)> = m.log.range(since + 1..).map(|(s, h)| (*s, *h)).collect();
        let same = |got: &[(u64, SignedChange)]| {
            got.len() == expect.len()
                && got.iter().zip(&expect).all(|((s, c), (es, eh))| {
                    s == es && c.as_bytes() == self.known[eh].envelope.as_bytes()
                })
        };
        assert!(
            same(&exported),
            "step {step}: replica {from}: changes_since({since}) differs from the model's log"
        );
        assert!(
            same(&paged),
            "step {step}: replica {from}: log_since({since}) in pages of {page} differs from the model's log"
        );
        let last_exported = exported.last().map(|(s, _)| *s).unwrap_or(since);
        if reopen_from {
            self.restart(from);
        }

        let mut records: Vec<SignedChange> = exported.into_iter().map(|(_, c)| c).collect();
        if dup {
            let again: Vec<SignedChange> = records.iter().step_by(2).cloned().collect();
            records.extend(again);
        }
        if let Some(s) = shuffle {
            records.shuffle(&mut ChaCha8Rng::seed_from_u64(s));
        }
        let mut forged_bytes = None;
        if let Some(i) = forge.filter(|_| !records.is_empty()) {
            let i = i % records.len();
            let mut b = records[i].as_bytes().to_vec();
            let last = b.len() - 1;
            b[last] ^= 0x40;
            records[i] = SignedChange::decode(b.clone()).expect("still well-formed");
            forged_bytes = Some(b);
        }
        let mut complete = true;
        let envelopes: Vec<SignedChange> = match via {
            Envelopes => records,
            Bundle | CutBundle(_) => {
                let mut w = BundleWriter::new(Vec::new()).expect("bundle");
                for c in &records {
                    w.push_change(c).expect("push");
                }
                let mut bytes = w.finish().expect("finish");
                self.bundles += 1;
                let path = self.scratch.path().join(format!("{}.rmb", self.bundles));
                if let CutBundle(cut) = via {
                    let at = 9 + (cut % (bytes.len() as u64 - 9)) as usize;
                    bytes.truncate(at);
                }
                std::fs::write(&path, &bytes).expect("write bundle");
                let read = std::fs::read(&path).expect("read bundle");
                let parsed = BundleReader::parse(&read).expect("parse");
                complete = parsed.complete;
                assert_eq!(
                    complete,
                    matches!(via, Bundle),
                    "step {step}: bundle completeness"
                );
                let got: Vec<SignedChange> = parsed
                    .records
                    .into_iter()
                    .map(|rec| {
                        assert_eq!(rec.tag, TAG_CHANGE);
                        SignedChange::decode(rec.body).expect("envelope")
                    })
                    .collect();
                assert!(
                    got.len() <= records.len() && got[..] == records[..got.len()],
                    "step {step}: the bundle does not read back as a prefix of what was written"
                );
                if matches!(via, Bundle) {
                    assert_eq!(got.len(), records.len(), "step {step}: bundle lost records");
                }
                got
            }
        };
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (env, res) in envelopes.iter().zip(SignedChange::verify_many(&envelopes)) {
            match res {
                Ok(vc) => good.push(vc),
                Err(why) => bad.push((env.as_bytes().to_vec(), why)),
            }
        }
        let forged = envelopes
            .iter()
            .filter(|e| Some(e.as_bytes()) == forged_bytes.as_deref())
            .count();
        assert_eq!(
            bad.len(),
            forged,
            "step {step}: only the forged record fails"
        );
        self.models[to].quarantined += bad.len();
        self.stats.forged += bad.len();
        self.replicas[to]
            .store()
            .quarantine(bad, "model")
            .expect("quarantine");

        let chunks = chunks.clamp(1, 3);
        let size = good.len().div_ceil(chunks).max(1);
        let mut parts: Vec<Vec<VerifiedChange>> = Vec::new();
        let mut rest = good;
        while !rest.is_empty() {
            let tail = rest.split_off(size.min(rest.len()));
            parts.push(std::mem::replace(&mut rest, tail));
        }
        for (i, part) in parts.into_iter().enumerate() {
            if i == 1 && reopen_to_mid {
                self.restart(to);
            }
            self.apply_checked(to, part, pipelined);
        }
        if by_checkpoint && complete && forged_bytes.is_none() {
            // Everything after the old checkpoint arrived: the node would now move it on.
            self.replicas[to]
                .store()
                .set_checkpoint(&from_key, from_index, last_exported)
                .expect("set_checkpoint");
            self.models[to]
                .checkpoints
                .insert(from, (from_index, last_exported));
        }
    }

    // -----------------------------------------------------------------------------------------------
    // Checking

    /// Checks replica `r` against the model; `full` adds the store's own `verify`.
    fn check_replica(&mut self, r: usize, full: bool) {
        let step = self.step;
        let n = self.replicas.len();
        let s = self.replicas[r].store();
        let m = &self.models[r];
        let last = m.log.keys().next_back().copied().unwrap_or(0);
        assert_eq!(s.last_seq(), last, "step {step}: replica {r}: last_seq");
        assert_eq!(
            m.log.len() as u64,
            last,
            "step {step}: replica {r}: the model's log has gaps"
        );
        assert_eq!(
            s.index_id(),
            m.index_id,
            "step {step}: replica {r}: index id"
        );
        // Every change the model knows is stored exactly when the model says so.
        for (h, k) in &self.known {
            assert_eq!(
                s.has_change(h).expect("has_change"),
                m.applied.contains(h),
                "step {step}: replica {r}: has_change of a change of {}",
                k.member
            );
        }
        assert_eq!(
            s.pending_count(),
            m.pending(),
            "step {step}: replica {r}: pending"
        );
        assert_eq!(
            s.quarantine_count(),
            m.quarantined,
            "step {step}: replica {r}: quarantine"
        );
        for p in 0..n {
            let want = m.checkpoints.get(&p).copied().unwrap_or((0, 0));
            let got = s
                .checkpoint(&self.replicas[p].key.public())
                .expect("checkpoint");
            assert_eq!(got, want, "step {step}: replica {r}: checkpoint for {p}");
            // Everything up to a checkpoint has been received from that peer.
            if want.0 != 0 && want.0 == self.models[p].index_id {
                for (seq, h) in self.models[p].log.range(..=want.1) {
                    assert!(
                        m.received.contains(h),
                        "step {step}: replica {r}: checkpoint for {p} at {} but its seq {seq} never arrived",
                        want.1
                    );
                }
            }
        }
        let held: Vec<MemberId> = self
            .members
            .iter()
            .copied()
            .filter(|id| self.holds(r, *id))
            .collect();
        assert_eq!(
            s.member_count(),
            held.len(),
            "step {step}: replica {r}: members"
        );
        let listed: BTreeSet<MemberId> = s
            .list(None)
            .expect("list")
            .into_iter()
            .map(|rec| rec.id)
            .collect();
        assert_eq!(
            listed,
            held.iter().copied().collect(),
            "step {step}: replica {r}: list"
        );
        let states: HashMap<MemberId, Hash> = s
            .states()
            .expect("states")
            .into_iter()
            .map(|(id, _, h)| (id, h))
            .collect();
        let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for id in self.members.clone() {
            let log = self.member_log(r, id);
            let s = self.replicas[r].store();
            let history = s.history(&id).expect("history");
            assert!(
                history.len() == log.len()
                    && history.iter().zip(&log).all(|((s1, c), (s2, h))| {
                        s1 == s2 && c.as_bytes() == self.known[h].envelope.as_bytes()
                    }),
                "step {step}: replica {r}: history of {id} ({} stored, {} in the model)",
                history.len(),
                log.len()
            );
            if log.is_empty() {
                assert!(s.record(&id).expect("record").is_none(), "step {step}");
                assert!(s.dossier(&id).expect("dossier").is_none(), "step {step}");
                continue;
            }
            let hashes: Vec<Hash> = log.iter().map(|(_, h)| *h).collect();
            let e = self.expected(id, &hashes);
            let s = self.replicas[r].store();
            let rec = s.record(&id).expect("record");
            assert!(
                rec.as_ref() == Some(&e.record),
                "step {step}: replica {r}: projection of {id} is not what its changes rebuild\n  stored: {rec:?}\n  model:  {:?}",
                e.record
            );
            assert_eq!(
                states.get(&id),
                Some(&e.state),
                "step {step}: replica {r}: state hash of {id}"
            );
            let d = s.dossier(&id).expect("dossier").expect("dossier");
            assert_eq!(
                d.doc().get_heads(),
                e.heads,
                "step {step}: replica {r}: live document of {id}"
            );
            if !e.record.conflicted.is_empty() {
                self.stats.conflicted += 1;
            }
            let name_hits = s.search(e.record.name()).expect("search");
            assert!(
                name_hits.iter().any(|h| h.id == id),
                "step {step}: replica {r}: search({:?}) misses {id}",
                e.record.name()
            );
            *counts
                .entry((
                    e.record.get(Field::Unit).unwrap_or("").to_string(),
                    e.record.get(Field::Status).unwrap_or("").to_string(),
                    e.record.get(Field::Sector).unwrap_or("").to_string(),
                ))
                .or_default() += 1;
        }
        let s = self.replicas[r].store();
        let heads: BTreeMap<(String, String, String), u64> = s
            .headcount(&store_unit())
            .expect("headcount")
            .into_iter()
            .map(|h| ((h.unit.to_string(), h.status, h.sector), h.count))
            .collect();
        assert_eq!(heads, counts, "step {step}: replica {r}: headcount");
        if full {
            let v = s.verify().expect("verify");
            assert!(v.is_clean(), "step {step}: replica {r}: {:?}", v.problems);
            let m = &self.models[r];
            assert_eq!(
                (v.changes, v.documents, v.pending, v.quarantined),
                (m.log.len(), held.len(), m.pending(), m.quarantined),
                "step {step}: replica {r}: verify counts"
            );
        }
    }

    /// Replicas holding the same changes of a member hold the same projection and state hash.
    fn check_convergence(&self) {
        let step = self.step;
        let states: Vec<HashMap<MemberId, Hash>> = self
            .replicas
            .iter()
            .map(|r| {
                let s = r.store().states().expect("states");
                s.into_iter().map(|(id, _, h)| (id, h)).collect()
            })
            .collect();
        for id in &self.members {
            let mut by_set: HashMap<Vec<Hash>, (usize, Option<MemberRecord>, Option<Hash>)> =
                HashMap::new();
            for (r, states) in states.iter().enumerate() {
                let mut set: Vec<Hash> = self
                    .member_log(r, *id)
                    .into_iter()
                    .map(|(_, h)| h)
                    .collect();
                if set.is_empty() {
                    continue;
                }
                set.sort();
                let rec = self.replicas[r].store().record(id).expect("record");
                let state = states.get(id).copied();
                match by_set.get(&set) {
                    None => {
                        by_set.insert(set, (r, rec, state));
                    }
                    Some((other, orec, ostate)) => {
                        assert!(
                            orec == &rec && ostate == &state,
                            "step {step}: replicas {other} and {r} hold the same changes of {id} but differ"
                        );
                    }
                }
            }
        }
    }

    fn check_all(&mut self, full: bool) {
        for r in 0..self.replicas.len() {
            self.check_replica(r, full);
        }
        self.check_convergence();
    }
}

// ---------------------------------------------------------------------------------------------------
// Running cases

impl World {
    /// Every replica exports everything to every other, twice: afterwards all hold every change.
    fn heal(&mut self) {
        let n = self.replicas.len();
        for _ in 0..2 {
            for from in 0..n {
                for to in 0..n {
                    if from != to {
                        self.export(Ex {
                            from,
                            to,
                            since: Everything,
                            via: Envelopes,
                            shuffle: None,
                            dup: false,
                            chunks: 1,
                            forge: None,
                            page: 1000,
                            pipelined: false,
                            reopen_from: false,
                            reopen_to_mid: false,
                        });
                    }
                }
            }
        }
        let all: HashSet<Hash> = self.known.keys().copied().collect();
        for (r, m) in self.models.iter().enumerate() {
            assert!(
                m.applied == all && m.pending() == 0,
                "after healing, replica {r} holds {} of {} changes ({} waiting)",
                m.applied.len(),
                all.len(),
                m.pending()
            );
        }
    }
}

/// The replicas an op may change.
fn touches(op: &Op, n: usize) -> Vec<usize> {
    match *op {
        Create { replica, .. }
        | Edit { replica, .. }
        | Restart { replica }
        | Junk { replica, .. } => {
            vec![replica % n]
        }
        Export(ex) if ex.reopen_from && ex.from % n != ex.to % n => vec![ex.to % n, ex.from % n],
        Export(ex) => vec![ex.to % n],
    }
}

/// Runs a case, checking the stores against the model after every op; panics on the first difference.
fn run_case(case: &Case) -> Stats {
    let mut w = World::new(case.replicas);
    for (i, op) in case.ops.iter().enumerate() {
        w.step = i;
        w.run_op(op);
        // Only the replicas an op touched can have changed (a restart checks itself). The store's own
        // `verify` rebuilds every document: only after imports.
        if !matches!(op, Restart { .. }) {
            for r in touches(op, case.replicas) {
                w.check_replica(r, matches!(op, Export(_)));
            }
        }
        w.check_convergence();
    }
    w.step = case.ops.len();
    w.heal();
    w.check_all(true);
    let compacted = w.members.iter().any(|id| {
        (0..case.replicas).any(|r| w.member_log(r, *id).len() > rollmesh_store::COMPACT_AT)
    });
    w.stats.compacted += compacted as usize;
    w.stats
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// A panic hook that stays silent while a case is being shrunk (on this thread only).
fn install_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                default(info)
            }
        }));
    });
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic)".to_string())
}

/// Runs a case quietly; the panic message when it fails.
fn fails(case: &Case) -> Option<String> {
    QUIET.with(|q| q.set(true));
    let r = catch_unwind(AssertUnwindSafe(|| {
        run_case(case);
    }));
    QUIET.with(|q| q.set(false));
    r.err().map(|e| panic_message(&*e))
}

/// Simpler variants of one op, for shrinking.
fn simpler(op: &Op) -> Vec<Op> {
    let mut out = Vec::new();
    match op.clone() {
        Create {
            replica,
            name,
            built: true,
        } => out.push(Create {
            replica,
            name,
            built: false,
        }),
        Export(ex) => {
            let simpler = [
                Ex {
                    since: Everything,
                    ..ex
                },
                Ex {
                    via: Envelopes,
                    ..ex
                },
                Ex {
                    shuffle: None,
                    ..ex
                },
                Ex { dup: false, ..ex },
                Ex { chunks: 1, ..ex },
                Ex { forge: None, ..ex },
                Ex { page: 40, ..ex },
                Ex {
                    pipelined: false,
                    ..ex
                },
                Ex {
                    reopen_from: false,
                    ..ex
                },
                Ex {
                    reopen_to_mid: false,
                    ..ex
                },
            ];
            out.extend(simpler.into_iter().filter(|e| *e != ex).map(Export));
        }
        _ => {}
    }
    out
}

/// Shrinks a failing case: fewer replicas, fewer ops (halves, then smaller runs, then single ops),
/// simpler ops, until nothing smaller fails.
fn shrink(mut case: Case) -> Case {
    loop {
        let mut progress = false;
        if case.replicas > 1 {
            let c = Case {
                replicas: case.replicas - 1,
                ops: case.ops.clone(),
            };
            if fails(&c).is_some() {
                case = c;
                progress = true;
            }
        }
        let mut size = (case.ops.len() / 2).max(1);
        loop {
            let mut i = 0;
            while i + size <= case.ops.len() {
                let mut c = case.clone();
                c.ops.drain(i..i + size);
                if fails(&c).is_some() {
                    case = c;
                    progress = true;
                } else {
                    i += size;
                }
            }
            if size == 1 {
                break;
            }
            size /= 2;
        }
        for i in 0..case.ops.len() {
            for op in simpler(&case.ops[i]) {
                let mut c = case.clone();
                c.ops[i] = op;
                if fails(&c).is_some() {
                    case = c;
                    progress = true;
                    break;
                }
            }
        }
        if !progress {
            return case;
        }
    }
}

/// A case as Rust source, to paste into a `regression_*` test.
fn show(case: &Case) -> String {
    let mut s = format!(
        "Case {{\n    replicas: {},\n    ops: vec![\n",
        case.replicas
    );
    for op in &case.ops {
        s.push_str(&format!("        {op:?},\n"));
    }
    s.push_str("    ],\n}");
    s
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// Runs seeds, shrinking and reporting the first failure; returns what they covered.
fn sweep(seeds: impl Iterator<Item = u64>) -> Stats {
    install_hook();
    let started = std::time::Instant::now();
    let mut stats = Stats::default();
    let mut count = 0;
    let mut ops = 0;
    for seed in seeds {
        let case = gen_case(seed);
        count += 1;
        ops += case.ops.len();
        match catch_unwind(AssertUnwindSafe(|| run_case(&case))) {
            Ok(s) => stats.add(s),
            Err(e) => {
                let msg = panic_message(&*e);
                let small = shrink(case.clone());
                let small_msg = fails(&small).unwrap_or_else(|| "(the shrunk case passes?)".into());
                panic!(
                    "model test failed for seed {seed}: {msg}\n\
                     (step i is op i of the case; step {} is the final exchange that heals all replicas)\n\
                     replay: MODEL_SEED={seed} cargo test -p rollmesh-store --test model\n\
                     case:\n{}\n\
                     shrunk to {} ops, failing with: {small_msg}\n{}",
                    case.ops.len(),
                    show(&case),
                    small.ops.len(),
                    show(&small)
                );
            }
        }
    }
    eprintln!(
        "model: {count} seeds, {ops} ops, in {:.1?}; {stats:?}",
        started.elapsed()
    );
    stats
}

#[test]
fn random_operations_match_the_model() {
    if let Some(seed) = env_u64("MODEL_SEED") {
        eprintln!("seed {seed}:\n{}", show(&gen_case(seed)));
        sweep(std::iter::once(seed));
        return;
    }
    let start = env_u64("MODEL_SEED_START").unwrap_or(0);
    let count = env_u64("MODEL_SEEDS").unwrap_or(200);
    let s = sweep(start..start + count);
    if count >= 100 {
        // The generator still reaches the paths the model is about.
        let covered = [
            ("changes left waiting", s.waited),
            ("waiting changes released by a later call", s.released),
            ("restarts with waiting changes", s.restarts_waiting),
            ("documents compacted", s.compacted),
            ("conflicting fields", s.conflicted),
            ("exports resumed from a checkpoint", s.resumed),
            ("forged records", s.forged),
            ("cut bundles", s.cut),
            ("junk quarantined", s.junk),
        ];
        for (what, n) in covered {
            assert!(n > 0, "the sweep never produced {what}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Named cases: small, hand-written sequences through the riskiest paths, kept independent of the
// generator (whose cases move whenever it or the rand crate changes). Each asserts that it reached the
// path it is about. Shrunk failures of real store bugs go here too, as `regression_<name>` with a line
// on the cause.

/// A plain export: everything in order, once, in one call.
fn plain(from: usize, to: usize, since: Since, via: Via) -> Ex {
    Ex {
        from,
        to,
        since,
        via,
        shuffle: None,
        dup: false,
        chunks: 1,
        forge: None,
        page: 40,
        pipelined: false,
        reopen_from: false,
        reopen_to_mid: false,
    }
}

fn ex(from: usize, to: usize, since: Since, via: Via) -> Op {
    Export(plain(from, to, since, via))
}

fn set(replica: usize, field: usize, value: usize) -> Op {
    Edit {
        replica,
        member: 0,
        edit: SetField { field, value },
    }
}

fn run_named(case: Case) -> Stats {
    install_hook();
    run_case(&case)
}

/// Changes that arrive before their dependencies wait on disk, survive a restart, and are released by
/// a later call that brings only the dependencies.
#[test]
fn case_waiting_changes_survive_a_restart_and_are_released_later() {
    let stats = run_named(Case {
        replicas: 2,
        ops: vec![
            Create {
                replica: 0,
                name: 0,
                built: false,
            },
            set(0, 0, 0),
            set(0, 1, 0),
            set(0, 2, 0),
            // Seqs 3 and 4 only: both wait for seq 2.
            ex(0, 1, AfterSeq(2), Envelopes),
            Restart { replica: 1 },
            // Seqs 1 and 2 in the first call release 3 and 4 from disk; the second call repeats them.
            Export(Ex {
                chunks: 2,
                ..plain(0, 1, Everything, Bundle)
            }),
        ],
    });
    assert!(
        stats.waited > 0 && stats.restarts_waiting > 0 && stats.released > 0,
        "{stats:?}"
    );
}

/// A document past `COMPACT_AT` changes, restarted, copied as a shuffled bundle with repeats, then edited
/// concurrently on both replicas: the conflict shows the same on both, and across restarts.
#[test]
fn case_compacted_document_with_concurrent_edits() {
    let mut ops = vec![Create {
        replica: 0,
        name: 1,
        built: true,
    }];
    for i in 0..10 {
        ops.push(set(0, i % 4, i / 4));
    }
    ops.push(Restart { replica: 0 });
    ops.push(Export(Ex {
        shuffle: Some(7),
        dup: true,
        ..plain(0, 1, Everything, Bundle)
    }));
    // The same field, concurrently.
    ops.push(set(0, 0, 1));
    ops.push(set(1, 0, 0));
    ops.push(ex(1, 0, AfterCheckpoint, Envelopes));
    ops.push(ex(0, 1, AfterCheckpoint, Envelopes));
    ops.push(Restart { replica: 0 });
    ops.push(Restart { replica: 1 });
    let stats = run_named(Case { replicas: 2, ops });
    assert!(stats.compacted > 0 && stats.conflicted > 0, "{stats:?}");
}

/// A cut bundle and a bundle with a forged record do not move the checkpoint; a clean one does, and
/// the next export resumes from it.
#[test]
fn case_checkpoint_moves_only_after_a_complete_clean_import() {
    let stats = run_named(Case {
        replicas: 2,
        ops: vec![
            Create {
                replica: 0,
                name: 2,
                built: false,
            },
            set(0, 1, 1),
            set(0, 3, 2),
            ex(0, 1, AfterCheckpoint, CutBundle(100)),
            Export(Ex {
                forge: Some(1),
                ..plain(0, 1, AfterCheckpoint, Bundle)
            }),
            ex(0, 1, AfterCheckpoint, Bundle),
            set(0, 4, 0),
            Restart { replica: 1 },
            ex(0, 1, AfterCheckpoint, Envelopes),
            Junk {
                replica: 1,
                wrong_id: true,
            },
            Restart { replica: 1 },
        ],
    });
    assert!(
        stats.cut > 0 && stats.forged > 0 && stats.resumed > 0 && stats.junk > 0,
        "{stats:?}"
    );
}
