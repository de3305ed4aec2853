//! Unit tests of `peer_auth`: its decisions over real sled stores and real keys.

use super::*;
use crate::testkit::{u, Org, C1, C2, CITY, WARD};
use rollmesh_proto::{roles, Credential, NodeKey};

/// Checks the refusal's `Display`, what the log and the peer read: `refused: <code> (...)`.
fn assert_says(e: &PeerRefusal, code: &str) {
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("refused: {code} (")),
        "{text:?} should start with \"refused: {code} (\""
    );
}

fn auth(
    node: &Node,
    org: &Org,
    unit: &str,
    expected: Option<NodeId>,
) -> Result<PeerAuth, PeerRefusal> {
    node.authenticate_peer(
        org.public(unit),
        &org.chain(unit).encode(),
        vec![],
        expected,
    )
}

#[test]
fn a_valid_chain_is_let_in_with_its_scope() {
    let org = Org::new();
    let city = org.open(CITY);
    for unit in [C1, WARD] {
        let a = auth(&city, &org, unit, Some(org.public(unit).node_id())).expect("let in");
        assert_eq!(a.scope, u(unit));
        assert_eq!(a.chain, org.chain(unit));
        assert_eq!(a.new_revocations, 0);
    }
    // A peer that dialled us is checked without an expected id.
    let cell = org.open(C2);
    let a = auth(&cell, &org, CITY, None).expect("let in");
    assert_eq!(a.scope, u(CITY));
}

#[test]
fn a_configured_peer_must_be_the_node_we_meant() {
    let org = Org::new();
    let city = org.open(CITY);
    let e = auth(&city, &org, C1, Some(org.public(C2).node_id())).expect_err("refused");
    match &e {
        PeerRefusal::UnexpectedNode { expected, found } => {
            assert_eq!(*expected, org.public(C2).node_id());
            assert_eq!(*found, org.public(C1).node_id());
        }
        other => panic!("{other:?}"),
    }
    assert_says(&e, "unexpected_node");
}

#[test]
fn a_peer_without_a_chain_or_with_garbage_is_refused() {
    let org = Org::new();
    let city = org.open(CITY);
    let key = org.public(C1);
    let e = city
        .authenticate_peer(key, &[], vec![], None)
        .expect_err("refused");
    assert!(matches!(e, PeerRefusal::NoCredential), "{e:?}");
    assert_says(&e, "no_credential");
    // A well-formed chain of no links is refused too (today as key_mismatch: it certifies no key).
    let e = city
        .authenticate_peer(key, &Chain(vec![]).encode(), vec![], None)
        .expect_err("refused");
    assert!(e.to_string().starts_with("refused: "), "{e}");
    for garbage in [vec![1u8], vec![3, 0, 9, 1, 2], vec![0xff; 300]] {
        let e = city
            .authenticate_peer(key, &garbage, vec![], None)
            .expect_err("refused");
        assert!(matches!(e, PeerRefusal::MalformedCredential(_)), "{e:?}");
        assert_says(&e, "malformed_credential");
    }
}

#[test]
fn a_chain_for_another_key_is_a_key_mismatch() {
    let org = Org::new();
    let city = org.open(CITY);
    // The handshake proved C1's key; the chain presented is C2's (valid in itself).
    let e = city
        .authenticate_peer(org.public(C1), &org.chain(C2).encode(), vec![], None)
        .expect_err("refused");
    assert!(matches!(e, PeerRefusal::KeyMismatch), "{e:?}");
    assert_says(&e, "key_mismatch");
}

#[test]
fn a_stranger_gets_no_work_out_of_its_revocations() {
    // Regression (attacker review): revocations in Auth were checked, one signature each, before the
    // peer's chain was; a self-signed chain carrying 400k copies of one revocation cost ~35 s of CPU
    // per frame. Now a chain that does not reach our root is refused first, and copies count once.
    let org = Org::new();
    let ward = org.open(WARD);
    ward.accept_records(vec![org.chain_record(C1)], "c1")
        .expect("accept");
    let rev = ward
        .credential_revoke(Some(org.public(C1).node_id()), None)
        .expect("revoke");
    drop(ward);
    let city = org.open(CITY);
    city.accept_records(vec![org.chain_record(WARD)], "ward")
        .expect("accept");
    let stranger = NodeKey::generate();
    let now = crate::node::now();
    let self_signed = Chain(vec![Credential::issue(
        &stranger,
        stranger.public(),
        u(CITY),
        roles::ALL,
        now - 60,
        now + 3600,
        1,
    )]);
    let e = city
        .authenticate_peer(
            stranger.public(),
            &self_signed.encode(),
            vec![rev.encode(); 10_000],
            None,
        )
        .expect_err("a stranger");
    assert_says(&e, "wrong_root");
    assert!(
        city.revocations().expect("revocations").is_empty(),
        "nothing it brought was even looked at"
    );
    // A member of the organisation bringing the same revocation 10,000 times records it once.
    let a = city
        .authenticate_peer(
            org.public(C2),
            &org.chain(C2).encode(),
            vec![rev.encode(); 10_000],
            None,
        )
        .expect("let in");
    assert_eq!(a.new_revocations, 1);
    // More distinct revocations than the cap is refused outright.
    let many: Vec<Vec<u8>> = (0..=MAX_AUTH_REVOCATIONS as u32)
        .map(|i| i.to_be_bytes().to_vec())
        .collect();
    let e = city
        .authenticate_peer(org.public(C2), &org.chain(C2).encode(), many, None)
        .expect_err("too many");
    assert_says(&e, "malformed_credential");
}

#[test]
fn an_invalid_chain_is_refused_with_its_code() {
    let org = Org::new();
    let city = org.open(CITY);
    let now = crate::node::now();
    let peer = NodeKey::generate();
    let one_link = |issuer: &NodeKey, not_before: i64, not_after: i64| {
        Chain(vec![Credential::issue(
            issuer,
            peer.public(),
            u(CITY),
            roles::ALL,
            not_before,
            not_after,
            1,
        )])
    };
    let foreign_root = NodeKey::generate();
    let mut cell_may_not_issue = org.chain(C1);
    cell_may_not_issue.0.push(Credential::issue(
        &org.key(C1),
        peer.public(),
        u(C1),
        roles::CLERK,
        now - 60,
        now + 3600,
        2,
    ));
    for (chain, code) in [
        (one_link(&foreign_root, now - 60, now + 3600), "wrong_root"),
        (one_link(&org.root, now - 7200, now - 3600), "expired"),
        (one_link(&org.root, now + 3600, now + 7200), "not_yet_valid"),
        (cell_may_not_issue, "not_an_issuer"),
    ] {
        let e = city
            .authenticate_peer(peer.public(), &chain.encode(), vec![], None)
            .expect_err(code);
        match &e {
            PeerRefusal::Chain { code: c, .. } => assert_eq!(*c, code),
            other => panic!("{code}: {other:?}"),
        }
        assert_says(&e, code);
    }
}

#[test]
fn a_node_without_a_root_lets_nobody_in() {
    let org = Org::new();
    let dir = tempfile::tempdir().expect("tmp");
    let lone = Node::init(dir.path(), u(C1), None, None).expect("init");
    let e = auth(&lone, &org, WARD, None).expect_err("refused");
    assert!(matches!(e, PeerRefusal::NoRoot), "{e:?}");
    assert_says(&e, "no_root");
}

#[test]
fn a_revocation_is_recorded_at_first_contact_with_its_issuer() {
    // Regression (engine review): the city had never seen the ward's chain, so the revocation the
    // ward brought in its first Auth was refused for want of its issuer's chain, and the revoked cell
    // could still connect until a log batch carried the chain.
    let org = Org::new();
    let ward = org.open(WARD);
    ward.accept_records(vec![org.chain_record(C1)], "c1")
        .expect("accept");
    let rev = ward
        .credential_revoke(Some(org.public(C1).node_id()), None)
        .expect("revoke");
    drop(ward);
    let city = org.open(CITY);
    let a = city
        .authenticate_peer(
            org.public(WARD),
            &org.chain(WARD).encode(),
            vec![rev.encode()],
            None,
        )
        .expect("the ward is let in");
    assert_eq!(a.new_revocations, 1, "recorded with the ward's own chain");
    assert!(
        city.recheck_peer(&org.chain(C1)).is_err(),
        "the cell is out"
    );
}

#[test]
fn revocations_brought_in_auth_are_recorded_and_stop_the_revoked_peer() {
    let org = Org::new();
    // The ward learns C1's chain and revokes it.
    let ward = org.open(WARD);
    ward.accept_records(vec![org.chain_record(C1)], "c1")
        .expect("accept");
    let rev = ward
        .credential_revoke(Some(org.public(C1).node_id()), None)
        .expect("revoke");
    drop(ward);
    let city = org.open(CITY);
    // The city knows the ward's chain (the revocation's issuer) but not yet the revocation.
    city.accept_records(vec![org.chain_record(WARD)], "ward")
        .expect("accept");
    let c1_chain = org.chain(C1);
    let c1_session = auth(&city, &org, C1, None).expect("not revoked yet");
    city.recheck_peer(&c1_session.chain).expect("still fine");

    // Another peer (the sibling cell) brings the revocation in its Auth.
    let a = city
        .authenticate_peer(
            org.public(C2),
            &org.chain(C2).encode(),
            vec![rev.encode()],
            None,
        )
        .expect("the sibling is let in");
    assert_eq!(a.new_revocations, 1);
    assert_eq!(city.revocations().expect("revocations"), vec![rev.clone()]);
    // The open session of the revoked peer fails its next check, and it cannot come back.
    let e = city.recheck_peer(&c1_chain).expect_err("revoked");
    assert!(
        matches!(
            e,
            PeerRefusal::Chain {
                code: "revoked",
                ..
            }
        ),
        "{e:?}"
    );
    assert_says(&e, "revoked");
    let e = auth(&city, &org, C1, None).expect_err("revoked");
    assert_says(&e, "revoked");
    // Bringing the same revocation again records nothing new.
    let a = city
        .authenticate_peer(
            org.public(C2),
            &org.chain(C2).encode(),
            vec![rev.encode()],
            None,
        )
        .expect("let in");
    assert_eq!(a.new_revocations, 0);
    // The sibling's chain is not affected.
    city.recheck_peer(&org.chain(C2)).expect("sibling fine");
}

#[test]
fn a_revoked_peer_bringing_its_own_revocation_is_refused() {
    let org = Org::new();
    let ward = org.open(WARD);
    ward.accept_records(vec![org.chain_record(C1)], "c1")
        .expect("accept");
    let rev = ward
        .credential_revoke(Some(org.public(C1).node_id()), None)
        .expect("revoke");
    drop(ward);
    let city = org.open(CITY);
    city.accept_records(vec![org.chain_record(WARD)], "ward")
        .expect("accept");
    // Revocations are recorded before the chain is judged.
    let e = city
        .authenticate_peer(
            org.public(C1),
            &org.chain(C1).encode(),
            vec![rev.encode()],
            Some(org.public(C1).node_id()),
        )
        .expect_err("revoked");
    assert_says(&e, "revoked");
    assert_eq!(city.revocations().expect("revocations").len(), 1);
}

#[test]
fn a_forged_revocation_is_not_recorded() {
    let org = Org::new();
    let city = org.open(CITY);
    // C2 (not an issuer, not C1's parent) "revokes" C1.
    let forged = rollmesh_proto::Revocation::issue(
        &org.key(C2),
        org.public(C1),
        0,
        u(C1),
        crate::node::now(),
        vec![],
    );
    city.accept_records(vec![org.chain_record(C2)], "c2")
        .expect("accept");
    let a = city
        .authenticate_peer(
            org.public(C2),
            &org.chain(C2).encode(),
            vec![forged.encode(), vec![1, 2, 3]],
            None,
        )
        .expect("the peer itself is valid");
    assert_eq!(a.new_revocations, 0);
    assert!(city.revocations().expect("revocations").is_empty());
    auth(&city, &org, C1, None).expect("C1 is not revoked");
}
