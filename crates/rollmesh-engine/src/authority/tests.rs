//! Unit tests of `authority`: its decisions over real sled stores and real keys.

//! The policy on its own: fixed keys, chains issued at fixed times, projections built by hand, so
//! every branch of [`ChangePolicy::check`] is reached deterministically. The same decisions over real
//! stores are tested in `accept.rs`.

use super::*;
use crate::testkit::{forge_member_id, member_record, u, C1, C2, CITY, WARD};
use rollmesh_model::{Field, MemberId};
use rollmesh_proto::{Credential, NodeKey};

const NOW: i64 = 1_750_000_000;
const DAY: i64 = 86_400;

/// Keys of a fixed organisation: root → city → ward → two cells.
struct Keys {
    root: NodeKey,
    city: NodeKey,
    ward: NodeKey,
    c1: NodeKey,
    c2: NodeKey,
    stranger: NodeKey,
}

fn keys() -> Keys {
    Keys {
        root: NodeKey::from_seed([1; 32]),
        city: NodeKey::from_seed([2; 32]),
        ward: NodeKey::from_seed([3; 32]),
        c1: NodeKey::from_seed([4; 32]),
        c2: NodeKey::from_seed([5; 32]),
        stranger: NodeKey::from_seed([6; 32]),
    }
}

fn link(issuer: &NodeKey, subject: &NodeKey, unit: &str, bits: u8, serial: u64) -> Credential {
    Credential::issue(
        issuer,
        subject.public(),
        u(unit),
        bits,
        NOW - DAY,
        NOW + DAY,
        serial,
    )
}

fn city_chain(k: &Keys) -> Chain {
    Chain(vec![link(&k.root, &k.city, CITY, roles::ALL, 1)])
}

/// The ward's chain skips the district: a chain only needs each link issued by the previous subject.
fn ward_chain(k: &Keys) -> Chain {
    let mut c = city_chain(k);
    c.0.push(link(&k.city, &k.ward, WARD, roles::ALL, 2));
    c
}

fn cell_chain(k: &Keys, cell: &NodeKey, unit: &str, serial: u64) -> Chain {
    let mut c = ward_chain(k);
    c.0.push(link(
        &k.ward,
        cell,
        unit,
        roles::CLERK | roles::APPROVER,
        serial,
    ));
    c
}

fn all_chains(k: &Keys) -> Vec<Chain> {
    vec![
        city_chain(k),
        ward_chain(k),
        cell_chain(k, &k.c1, C1, 3),
        cell_chain(k, &k.c2, C2, 4),
    ]
}

fn policy(k: &Keys, scope: &str, chains: Vec<Chain>, revocations: Vec<Revocation>) -> ChangePolicy {
    ChangePolicy {
        scope: u(scope),
        own: k.city.public(),
        trust: Trust::Root(k.root.public()),
        revocations,
        chains: chains
            .into_iter()
            .map(|c| (c.subject().expect("subject"), c))
            .collect(),
        checked: Default::default(),
        competence: Default::default(),
        now: NOW,
    }
}

/// Member `n`, created a day before the policy's clock.
fn id(n: u8) -> MemberId {
    MemberId::new((NOW as u64 - 86_400) * 1000 + u64::from(n), [n; 10])
}

/// `author` creates member `n` in `unit`: the change and the projection it produces.
fn create(author: &NodeKey, n: u8, unit: &str) -> (VerifiedChange, MemberRecord) {
    let (id, vc) = forge_member_id(author, id(n), unit, "Nguyễn Văn An");
    (vc, member_record(id, unit))
}

fn code(v: Verdict) -> RejectCode {
    match v {
        Verdict::Reject(r) => r.code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn detail(v: Verdict) -> String {
    match v {
        Verdict::Reject(r) => r.detail,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn an_author_whose_chain_covers_the_member_unit_is_accepted() {
    let k = keys();
    let p = policy(&k, CITY, all_chains(&k), vec![]);
    // A cell in its own cell, the ward in a cell below it, the city anywhere.
    for (author, unit) in [
        (&k.c1, C1),
        (&k.c2, C2),
        (&k.ward, C1),
        (&k.ward, WARD),
        (&k.city, C2),
    ] {
        let (vc, after) = create(author, 1, unit);
        assert_eq!(p.check(&vc, None, &after), Verdict::Accept, "{unit}");
    }
    // An edit of a member already in the author's unit.
    let (vc, after) = create(&k.c1, 2, C1);
    let before = member_record(after.id, C1);
    assert_eq!(p.check(&vc, Some(&before), &after), Verdict::Accept);
}

#[test]
fn a_cell_writing_another_cells_member_is_unauthorized() {
    let k = keys();
    let p = policy(&k, CITY, all_chains(&k), vec![]);
    // Creating a member in the other cell.
    let (vc, after) = create(&k.c1, 1, C2);
    let v = p.check(&vc, None, &after);
    assert_eq!(code(v.clone()), RejectCode::Unauthorized);
    assert!(detail(v).contains(C2), "the detail names the member's unit");
    // Editing a member that stays in the other cell.
    let before = member_record(after.id, C2);
    assert_eq!(
        code(p.check(&vc, Some(&before), &after)),
        RejectCode::Unauthorized
    );
    // A cell writing a member of its parent ward is no better.
    let (vc, after) = create(&k.c1, 2, WARD);
    assert_eq!(code(p.check(&vc, None, &after)), RejectCode::Unauthorized);
}

#[test]
fn an_author_without_a_known_chain_has_no_credential() {
    let k = keys();
    // The cell's chain is not among the known ones.
    let p = policy(&k, CITY, vec![city_chain(&k), ward_chain(&k)], vec![]);
    let (vc, after) = create(&k.c1, 1, C1);
    assert_eq!(code(p.check(&vc, None, &after)), RejectCode::NoCredential);
    // A key nobody issued anything to.
    let (vc, after) = create(&k.stranger, 2, C1);
    assert_eq!(code(p.check(&vc, None, &after)), RejectCode::NoCredential);
}

#[test]
fn a_chain_certifying_another_key_is_a_bad_credential() {
    let k = keys();
    let mut p = policy(&k, CITY, vec![], vec![]);
    // The chain known under the first cell's key is the second cell's.
    p.chains.insert(k.c1.public(), cell_chain(&k, &k.c2, C1, 3));
    let (vc, after) = create(&k.c1, 1, C1);
    let v = p.check(&vc, None, &after);
    assert_eq!(code(v.clone()), RejectCode::BadCredential);
    assert!(detail(v).contains("another key"));
}

#[test]
fn an_invalid_chain_is_a_bad_credential_naming_why() {
    let k = keys();
    let (vc, after) = create(&k.c1, 1, C1);
    let mut expired = cell_chain(&k, &k.c1, C1, 3);
    expired.0[2] = Credential::issue(
        &k.ward,
        k.c1.public(),
        u(C1),
        roles::CLERK,
        NOW - 30 * DAY,
        NOW - DAY,
        3,
    );
    let mut early = cell_chain(&k, &k.c1, C1, 3);
    early.0[2] = Credential::issue(
        &k.ward,
        k.c1.public(),
        u(C1),
        roles::CLERK,
        NOW + DAY,
        NOW + 30 * DAY,
        3,
    );
    let foreign_root = NodeKey::from_seed([9; 32]);
    let mut wrong_root = cell_chain(&k, &k.c1, C1, 3);
    wrong_root.0[0] = link(&foreign_root, &k.city, CITY, roles::ALL, 1);
    let mut forged_link = cell_chain(&k, &k.c1, C1, 3);
    forged_link.0[2].unit = u(WARD); // widened after signing
                                     // The cell issues to itself under a cell credential, which may not delegate.
    let mut not_issuer = cell_chain(&k, &k.c1, C1, 3);
    not_issuer.0[2] = link(&k.ward, &k.c2, C2, roles::CLERK, 4);
    not_issuer.0.push(link(&k.c2, &k.c1, C2, roles::CLERK, 5));
    let (vc2, after2) = create(&k.c1, 2, C2);
    for (chain, want, (vc, after)) in [
        (expired, "expired", (&vc, &after)),
        (early, "not valid yet", (&vc, &after)),
        (wrong_root, "root", (&vc, &after)),
        (forged_link, "bad signature", (&vc, &after)),
        (not_issuer, "may not delegate", (&vc2, &after2)),
    ] {
        let p = policy(&k, CITY, vec![chain], vec![]);
        let v = p.check(vc, None, after);
        assert_eq!(code(v.clone()), RejectCode::BadCredential, "{want}");
        assert!(detail(v).contains(want), "detail should say {want}");
    }
}

#[test]
fn each_authors_chain_is_judged_on_its_own() {
    // One policy serves a whole batch and caches chain checks: a bad chain must not spill over.
    let k = keys();
    let mut expired = cell_chain(&k, &k.c2, C2, 4);
    expired.0[2] = Credential::issue(
        &k.ward,
        k.c2.public(),
        u(C2),
        roles::CLERK,
        NOW - 9 * DAY,
        NOW - DAY,
        4,
    );
    let p = policy(
        &k,
        CITY,
        vec![cell_chain(&k, &k.c1, C1, 3), expired],
        vec![],
    );
    let (good, good_after) = create(&k.c1, 1, C1);
    let (bad, bad_after) = create(&k.c2, 2, C2);
    for _ in 0..2 {
        assert_eq!(p.check(&good, None, &good_after), Verdict::Accept);
        assert_eq!(
            code(p.check(&bad, None, &bad_after)),
            RejectCode::BadCredential
        );
    }
}

#[test]
fn a_revoked_author_is_refused_except_for_what_the_revocation_accepted() {
    let k = keys();
    let (earlier, earlier_after) = create(&k.c1, 1, C1);
    let (later, later_after) = create(&k.c1, 2, C1);
    let (other_cell, other_after) = create(&k.c2, 3, C2);
    // The ward revokes the cell's key, listing the change it had accepted from it.
    let r = Revocation::issue(&k.ward, k.c1.public(), 0, u(C1), NOW, vec![earlier.hash()]);
    let p = policy(&k, CITY, all_chains(&k), vec![r]);
    assert_eq!(p.check(&earlier, None, &earlier_after), Verdict::Accept);
    let v = p.check(&later, None, &later_after);
    assert_eq!(code(v.clone()), RejectCode::Revoked);
    assert!(
        detail(v).contains("link 2"),
        "the detail names the revoked link"
    );
    // The sibling cell is untouched.
    assert_eq!(p.check(&other_cell, None, &other_after), Verdict::Accept);
}

#[test]
fn revoking_a_ward_refuses_its_cells_but_keeps_the_wards_accepted_changes() {
    let k = keys();
    let (ward_old, ward_old_after) = create(&k.ward, 1, WARD);
    let (ward_new, ward_new_after) = create(&k.ward, 2, WARD);
    let (cell, cell_after) = create(&k.c1, 3, C1);
    let r = Revocation::issue(
        &k.city,
        k.ward.public(),
        0,
        u(WARD),
        NOW,
        vec![ward_old.hash()],
    );
    let p = policy(&k, CITY, all_chains(&k), vec![r]);
    assert_eq!(p.check(&ward_old, None, &ward_old_after), Verdict::Accept);
    assert_eq!(
        code(p.check(&ward_new, None, &ward_new_after)),
        RejectCode::Revoked
    );
    // The cell's chain runs through the revoked ward link: the cell's changes go too.
    let v = p.check(&cell, None, &cell_after);
    assert_eq!(code(v.clone()), RejectCode::Revoked);
    assert!(detail(v).contains("link 1"));
}

#[test]
fn revoking_one_serial_spares_a_reissued_credential() {
    let k = keys();
    let (vc, after) = create(&k.c1, 1, C1);
    let r = Revocation::issue(&k.ward, k.c1.public(), 3, u(C1), NOW, vec![]);
    let old = policy(
        &k,
        CITY,
        vec![cell_chain(&k, &k.c1, C1, 3)],
        vec![r.clone()],
    );
    assert_eq!(code(old.check(&vc, None, &after)), RejectCode::Revoked);
    let reissued = policy(&k, CITY, vec![cell_chain(&k, &k.c1, C1, 7)], vec![r]);
    assert_eq!(reissued.check(&vc, None, &after), Verdict::Accept);
}

#[test]
fn a_credential_without_the_clerk_role_may_not_write() {
    let k = keys();
    let mut approver = ward_chain(&k);
    approver
        .0
        .push(link(&k.ward, &k.c1, C1, roles::APPROVER, 3));
    let p = policy(&k, CITY, vec![approver], vec![]);
    let (vc, after) = create(&k.c1, 1, C1);
    let v = p.check(&vc, None, &after);
    assert_eq!(code(v.clone()), RejectCode::Unauthorized);
    assert!(detail(v).contains("clerk"));
}

#[test]
fn a_move_needs_the_author_to_cover_both_units() {
    let k = keys();
    let p = policy(&k, CITY, all_chains(&k), vec![]);
    let (vc_c1, _) = create(&k.c1, 1, C1);
    let (vc_c2, _) = create(&k.c2, 1, C1);
    let (vc_ward, _) = create(&k.ward, 1, C1);
    let in_c1 = member_record(id(1), C1);
    let in_c2 = member_record(id(1), C2);
    // The cell sending its member away: it does not cover the destination.
    let v = p.check(&vc_c1, Some(&in_c1), &in_c2);
    assert_eq!(code(v.clone()), RejectCode::Unauthorized);
    assert!(detail(v).contains(C2));
    // The other cell pulling the member in: it does not cover the origin.
    let v = p.check(&vc_c2, Some(&in_c1), &in_c2);
    assert_eq!(code(v.clone()), RejectCode::Unauthorized);
    assert!(detail(v).contains(C1));
    // The ward covers both.
    assert_eq!(p.check(&vc_ward, Some(&in_c1), &in_c2), Verdict::Accept);
}

#[test]
fn a_member_without_a_unit_is_an_invalid_document() {
    let k = keys();
    let p = policy(&k, CITY, all_chains(&k), vec![]);
    let (vc, mut after) = create(&k.city, 1, C1);
    after.fields.remove(&Field::Unit);
    assert_eq!(
        code(p.check(&vc, None, &after)),
        RejectCode::InvalidDocument
    );
    after.fields.insert(Field::Unit, "not a unit!".into());
    assert_eq!(
        code(p.check(&vc, None, &after)),
        RejectCode::InvalidDocument
    );
    // Nor may an edit leave a member that had a unit without one.
    let before = member_record(id(1), C1);
    after.fields.remove(&Field::Unit);
    assert_eq!(
        code(p.check(&vc, Some(&before), &after)),
        RejectCode::InvalidDocument
    );
}

#[test]
fn only_members_inside_the_scope_are_kept() {
    let k = keys();
    let ward = policy(&k, WARD, vec![], vec![]);
    let cell = policy(&k, C1, vec![], vec![]);
    assert!(ward.keep(&member_record(id(1), C1)));
    assert!(ward.keep(&member_record(id(1), C2)));
    assert!(ward.keep(&member_record(id(1), WARD)));
    assert!(cell.keep(&member_record(id(1), C1)));
    assert!(!cell.keep(&member_record(id(1), C2)));
    assert!(
        !cell.keep(&member_record(id(1), WARD)),
        "a parent's member is outside a cell"
    );
    // A prefix that is not a parent is not inside.
    assert!(!cell.keep(&member_record(id(1), "hn.d01.w01.c011")));
    let mut no_unit = member_record(id(1), C1);
    no_unit.fields.remove(&Field::Unit);
    assert!(!ward.keep(&no_unit));
}

#[test]
fn list_mode_trusts_its_own_key_and_listed_keys_only() {
    let k = keys();
    let p = ChangePolicy {
        scope: u(C1),
        own: k.c1.public(),
        trust: Trust::List(vec![k.c2.public()]),
        revocations: vec![],
        chains: HashMap::new(),
        checked: Default::default(),
        competence: Default::default(),
        now: NOW,
    };
    let (own, own_after) = create(&k.c1, 1, C1);
    assert_eq!(p.check(&own, None, &own_after), Verdict::Accept);
    let (listed, listed_after) = create(&k.c2, 2, C1);
    assert_eq!(p.check(&listed, None, &listed_after), Verdict::Accept);
    // Without a root, even the organisation's city key is just another unlisted key.
    for author in [&k.city, &k.stranger] {
        let (vc, after) = create(author, 3, C1);
        let v = p.check(&vc, None, &after);
        assert_eq!(code(v.clone()), RejectCode::Untrusted);
        assert!(detail(v).contains(&author.public().node_id().to_string()));
    }
    // Trust is per key, not per unit: a listed key's change outside this node's unit passes the
    // check, and only `keep` keeps the member out of the store.
    let (vc, after) = create(&k.c2, 4, C2);
    assert_eq!(p.check(&vc, None, &after), Verdict::Accept);
    assert!(!p.keep(&after));
}

#[test]
fn a_new_member_with_an_impossible_creation_time_is_refused() {
    let k = keys();
    let p = policy(&k, CITY, all_chains(&k), vec![]);
    for ms in [0, 946_684_799_999, (NOW as u64 + 3 * 86_400) * 1000] {
        let (_, vc) = forge_member_id(&k.c1, MemberId::new(ms, [9; 10]), C1, "Nguyễn Văn An");
        let after = member_record(vc.envelope.doc(), C1);
        assert_eq!(
            code(p.check(&vc, None, &after)),
            RejectCode::InvalidDocument,
            "{ms}"
        );
        // An edit of a member already held is not judged by its id's time.
        let before = member_record(vc.envelope.doc(), C1);
        assert_eq!(p.check(&vc, Some(&before), &after), Verdict::Accept);
    }
}
