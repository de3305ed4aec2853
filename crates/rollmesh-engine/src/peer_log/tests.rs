//! Unit tests of `peer_log`: its decisions over real sled stores and real keys.

use super::*;
use crate::testkit::{
    assert_chains_lead, chain_subjects, change_record, changes_of, fields, move_to, set, u, Org,
    C1, C2, CITY, WARD,
};
use rollmesh_model::Field;
use rollmesh_sync::RecordKind;
use std::collections::BTreeSet;

/// A city holding members in both cells and at the ward, written by the city itself, the ward and
/// each cell (their chains recorded at the city).
struct World {
    org: Org,
    city: Node,
    /// By the city, in C1.
    x1: MemberId,
    /// By the city, in C2.
    x2: MemberId,
    /// By the city, at the ward.
    x3: MemberId,
    /// By C1 itself, in C1.
    y1: MemberId,
    /// By C2, in C2.
    z2: MemberId,
    /// By the ward, in C1.
    w1: MemberId,
}

fn world() -> World {
    let org = Org::new();
    let city = org.open(CITY);
    let x1 = city
        .add_member(fields("Thành Một", C1), vec![])
        .expect("add");
    let x2 = city
        .add_member(fields("Thành Hai", C2), vec![])
        .expect("add");
    let x3 = city
        .add_member(fields("Thành Ba", WARD), vec![])
        .expect("add");
    let (y1, vy) = org
        .open(C1)
        .new_member(fields("Chi Một", C1), vec![])
        .expect("new");
    let (z2, vz) = org
        .open(C2)
        .new_member(fields("Chi Hai", C2), vec![])
        .expect("new");
    let (w1, vw) = org
        .open(WARD)
        .new_member(fields("Phường Một", C1), vec![])
        .expect("new");
    let r = city
        .accept_records(
            vec![
                org.chain_record(C1),
                org.chain_record(C2),
                org.chain_record(WARD),
                change_record(&vy),
                change_record(&vz),
                change_record(&vw),
            ],
            "cells",
        )
        .expect("accept");
    assert_eq!(r.applied.applied.len(), 3);
    World {
        org,
        city,
        x1,
        x2,
        x3,
        y1,
        z2,
        w1,
    }
}

/// The member documents a batch carries (the organisation-wide ones — the tree the city published at
/// bootstrap — go to every scope and are checked apart).
fn docs(records: &[Record]) -> BTreeSet<MemberId> {
    changes_of(records)
        .iter()
        .filter(|c| c.kind() == rollmesh_proto::DocKind::Member)
        .map(|c| c.doc())
        .collect()
}

fn carries_the_tree(records: &[Record]) -> bool {
    changes_of(records)
        .iter()
        .any(|c| c.doc().0 == rollmesh_model::orgdoc::OrgDocKind::Tree.id())
}

fn kinds(records: &[Record]) -> Vec<RecordKind> {
    records.iter().map(|r| r.kind).collect()
}

#[test]
fn a_peer_reads_only_its_scope_without_its_own_changes() {
    let w = world();
    let mut log = PeerLog::new(&w.city, w.org.public(C1), u(C1));
    let b = log.read(0, 1000).expect("read");
    // C1's members, less the one C1 wrote itself, and the city's tree, which every scope gets.
    assert_eq!(docs(&b.records), BTreeSet::from([w.x1, w.w1]));
    assert!(carries_the_tree(&b.records));
    assert!(changes_of(&b.records)
        .iter()
        .all(|c| c.author() != w.org.public(C1)));
    assert_eq!(b.upto, w.city.store().last_seq());
    assert_eq!(b.upto, log.head());
    assert_chains_lead(&b.records);
    let chains: BTreeSet<_> = chain_subjects(&b.records).into_iter().collect();
    assert_eq!(
        chains,
        BTreeSet::from([w.org.public(CITY), w.org.public(WARD)])
    );
    assert!(!kinds(&b.records).contains(&RecordKind::Revocation));

    // The ward sees both cells and its own level, less what it wrote.
    let mut log = PeerLog::new(&w.city, w.org.public(WARD), u(WARD));
    let b = log.read(0, 1000).expect("read");
    assert_eq!(
        docs(&b.records),
        BTreeSet::from([w.x1, w.x2, w.x3, w.y1, w.z2])
    );
    assert_chains_lead(&b.records);
}

#[test]
fn reading_in_pages_loses_nothing_and_each_page_carries_its_chains() {
    let w = world();
    let mut log = PeerLog::new(&w.city, w.org.public(WARD), u(WARD));
    let mut from = 0;
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    while from < log.head() {
        let b = log.read(from, 1).expect("read");
        assert!(b.upto > from, "every read advances");
        assert!(changes_of(&b.records).len() <= 1);
        // Each page stands alone: a peer may drop one and read it again.
        assert_chains_lead(&b.records);
        seen.extend(docs(&b.records));
        from = b.upto;
        pages += 1;
    }
    assert!(pages >= 5);
    assert_eq!(seen, BTreeSet::from([w.x1, w.x2, w.x3, w.y1, w.z2]));
    // Nothing further.
    let b = log.read(from, 10).expect("read");
    assert!(b.records.is_empty());
    assert_eq!(b.upto, from);
}

#[test]
fn a_member_moving_into_the_scope_brings_its_history_and_leaving_it_sends_the_move() {
    let w = world();
    let m = w
        .city
        .add_member(fields("Chuyển Đến", C2), vec![])
        .expect("add");
    w.city
        .edit_member(m, &set(Field::Phone, "0912345678"))
        .expect("edit");
    let mut log = PeerLog::new(&w.city, w.org.public(C1), u(C1));
    let before = log.read(0, 1000).expect("read");
    assert!(!docs(&before.records).contains(&m), "not C1's member yet");
    let c1 = w.org.open(C1);
    c1.accept_records(before.records, "city").expect("accept");

    w.city.edit_member(m, &move_to(C1)).expect("move in");
    let b = log.read(before.upto, 1000).expect("read");
    let about_m: Vec<SignedChange> = changes_of(&b.records)
        .into_iter()
        .filter(|c| c.doc() == m)
        .collect();
    let history: Vec<SignedChange> = w
        .city
        .store()
        .history(&m)
        .expect("history")
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    assert_eq!(history.len(), 3);
    for h in &history {
        assert!(about_m.contains(h), "the whole history travels");
    }
    // Creation first: the peer can apply it in order.
    assert_eq!(about_m[0], history[0]);
    assert_chains_lead(&b.records);
    // The peer takes it in and holds the member, edit included.
    let r = c1.accept_records(b.records, "city").expect("accept");
    assert_eq!(r.rejected_total(), 0);
    assert_eq!(r.applied.pending, 0);
    let rec = c1.record(&m).expect("held");
    assert_eq!(rec.unit(), Some(u(C1)));
    assert_eq!(rec.get(Field::Phone), Some("0912345678"));

    // Moving out: the move is sent so that the peer lets the member go.
    let upto = log.head();
    w.city.edit_member(m, &move_to(C2)).expect("move out");
    let b = log.read(upto, 1000).expect("read");
    assert_eq!(docs(&b.records), BTreeSet::from([m]));
    let r = c1.accept_records(b.records, "city").expect("accept");
    assert_eq!(r.applied.evicted, vec![m]);
    assert!(c1.store().record(&m).expect("read").is_none());
}

#[test]
fn a_member_that_came_and_went_brings_no_later_history() {
    // Regression (attacker review): the move-in entry sent the member's history as it is *now*,
    // including edits made after it had left the peer's scope again; a cell pulling from 0 read the
    // current phone of every member ever placed in its unit.
    let w = world();
    let m = w
        .city
        .add_member(fields("Đến Rồi Đi", C2), vec![])
        .expect("add");
    w.city.edit_member(m, &move_to(C1)).expect("move in");
    w.city.edit_member(m, &move_to(C2)).expect("move out");
    w.city
        .edit_member(m, &set(Field::Phone, "0987654321"))
        .expect("edit after leaving");
    let mut log = PeerLog::new(&w.city, w.org.public(C1), u(C1));
    let b = log.read(0, 1000).expect("read");
    let sent: Vec<SignedChange> = changes_of(&b.records)
        .into_iter()
        .filter(|c| c.doc() == m)
        .collect();
    let history = w.city.store().history(&m).expect("history");
    assert_eq!(history.len(), 4);
    let last = &history[3].1;
    assert!(!sent.contains(last), "the edit made in C2 stays out of C1");
    // What C1 may know: the creation (with the move in), the move in and the move out.
    assert_eq!(sent.len(), 3, "{} changes sent", sent.len());
}

/// Runs one sync connection between `a` and `b` in-process with real sessions and real stores until
/// nothing moves (bounded), from the checkpoints given; returns what crossed, by message kind.
fn sync_once(
    a: (&Node, NodePublicKey, &str),
    b: (&Node, NodePublicKey, &str),
    checkpoints: [(u64, u64); 2],
) -> Vec<&'static str> {
    use rollmesh_sync::{Effect, Msg, Session, SessionConfig};
    let nodes = [a.0, b.0];
    // Each side's view of its own log, as the other peer (with its key and scope) may see it.
    let mut logs = [
        PeerLog::new(a.0, b.1, u(b.2)),
        PeerLog::new(b.0, a.1, u(a.2)),
    ];
    let hello = |i: usize| Msg::Auth {
        chain: Vec::new(),
        revocations: vec![vec![i as u8]],
    };
    let (s0, e0) = Session::start(0, SessionConfig::default(), hello(0));
    let (s1, e1) = Session::start(0, SessionConfig::default(), hello(1));
    let mut sessions = [s0, s1];
    let mut queue: std::collections::VecDeque<(usize, Effect)> = e0
        .into_iter()
        .map(|e| (0, e))
        .chain(e1.into_iter().map(|e| (1, e)))
        .collect();
    let mut crossed = Vec::new();
    for step in 0..10_000u64 {
        let Some((me, effect)) = queue.pop_front() else {
            return crossed;
        };
        let out = match effect {
            Effect::Send(m) => {
                crossed.push(m.name());
                let peer = 1 - me;
                let out = sessions[peer]
                    .on_msg(step, m, &mut logs[peer])
                    .expect("msg");
                out.into_iter().map(|e| (peer, e)).collect::<Vec<_>>()
            }
            Effect::Authenticate { .. } => sessions[me]
                .accept_peer(step, checkpoints[me], &mut logs[me])
                .expect("accept")
                .into_iter()
                .map(|e| (me, e))
                .collect(),
            Effect::Apply {
                records,
                index,
                upto,
            } => {
                let r = nodes[me].accept_records(records, "peer").expect("apply");
                assert_eq!(r.rejected_total(), 0, "{:?}", r.rejected);
                sessions[me]
                    .applied(step, index, upto)
                    .into_iter()
                    .map(|e| (me, e))
                    .collect()
            }
            Effect::Close { reason } => panic!("closed: {reason}"),
        };
        queue.extend(out);
    }
    panic!("the sync did not settle")
}

#[test]
fn reconciliation_delivers_a_move_out_of_the_scope() {
    // Regression (attacker review): after a lost checkpoint, reconciliation offered only documents now
    // in the peer's scope, and the Want's answer moved the checkpoint to the head, so a member the
    // city had moved from C1 to C2 stayed at C1 for good.
    let w = world();
    let c1 = w.org.open(C1);
    let city_key = w.org.public(CITY);
    let c1_key = w.org.public(C1);
    sync_once(
        (&w.city, city_key, CITY),
        (&c1, c1_key, C1),
        [(0, 0), (0, 0)],
    );
    assert!(
        c1.store().record(&w.x1).expect("read").is_some(),
        "C1 holds x1"
    );
    w.city.edit_member(w.x1, &move_to(C2)).expect("move away");
    // C1's checkpoint of the city's log is lost (a restore): it pulls against index 0.
    let crossed = sync_once(
        (&w.city, city_key, CITY),
        (&c1, c1_key, C1),
        [(0, 0), (0, 0)],
    );
    assert!(crossed.contains(&"Want"), "reconciled: {crossed:?}");
    assert!(
        c1.store().record(&w.x1).expect("read").is_none(),
        "the move out reached C1 and it let the member go"
    );
    assert!(c1.store().record(&w.y1).expect("read").is_some());
}

#[test]
fn states_and_histories_stay_inside_the_scope() {
    let w = world();
    let mut log = PeerLog::new(&w.city, w.org.public(C1), u(C1));
    let mut states: BTreeSet<MemberId> = log
        .states()
        .expect("states")
        .into_iter()
        .map(|(_, d)| MemberId(d))
        .collect();
    // Every document inside the scope, including those the peer wrote, and the city's tree.
    let tree = MemberId(rollmesh_model::orgdoc::OrgDocKind::Tree.id());
    assert!(states.remove(&tree));
    assert_eq!(states, BTreeSet::from([w.x1, w.y1, w.w1]));

    let unknown = MemberId([9; 16]);
    let records = log
        .histories(&[w.x2.0, w.x1.0, w.x3.0, unknown.0, w.z2.0])
        .expect("histories");
    assert_eq!(docs(&records), BTreeSet::from([w.x1]));
    assert_eq!(changes_of(&records).len(), 1);
    assert_chains_lead(&records);
    assert!(log
        .histories(&[w.x2.0, w.z2.0])
        .expect("histories")
        .is_empty());
}

#[test]
fn revocations_travel_when_they_changed() {
    let w = world();
    let mut log = PeerLog::new(&w.city, w.org.public(C1), u(C1));
    let head = log.head();
    assert!(log.read(head, 10).expect("read").records.is_empty());

    let rev = w
        .city
        .credential_revoke(Some(w.org.public(C2).node_id()), None)
        .expect("revoke");
    // No new change, but a new revocation: it goes out, after its issuer's chain.
    let b = log.read(head, 10).expect("read");
    assert_eq!(
        kinds(&b.records),
        vec![RecordKind::Chain, RecordKind::Revocation]
    );
    assert_eq!(chain_subjects(&b.records), vec![w.org.public(CITY)]);
    assert_eq!(b.records[1].body, rev.encode());
    // Nothing changed since: nothing to send.
    assert!(log.read(head, 10).expect("read").records.is_empty());
    // A batch with changes carries the revocations again, ahead of the changes.
    w.city.add_member(fields("Mới", C1), vec![]).expect("add");
    let b = log.read(head, 10).expect("read");
    let k = kinds(&b.records);
    let first_change = k
        .iter()
        .position(|k| *k == RecordKind::Change)
        .expect("a change");
    let rev_at = k
        .iter()
        .position(|k| *k == RecordKind::Revocation)
        .expect("revocation");
    assert!(rev_at < first_change);
    assert_chains_lead(&b.records);
    // A new session starts with the revocations even without changes.
    let mut fresh = PeerLog::new(&w.city, w.org.public(C1), u(C1));
    let b = fresh.read(fresh.head(), 10).expect("read");
    assert_eq!(
        kinds(&b.records),
        vec![RecordKind::Chain, RecordKind::Revocation]
    );
}
