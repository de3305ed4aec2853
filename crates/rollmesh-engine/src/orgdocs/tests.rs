//! Organisation-wide documents over real stores and keys: only the root-certified city writes them,
//! every scope receives them, and the screening follows the rule set in force.

use chrono::NaiveDate;
use rollmesh_model::ledger::{Dues, LedgerEdit};
use rollmesh_model::orgdoc::OrgDocKind;
use rollmesh_model::{Field, MemberId};
use rollmesh_proto::{actor_for, DocKind, RejectCode, VerifiedChange};
use rollmesh_rules::{RuleId, RuleSet};
use rollmesh_sync::{Log, Record};

use super::RulesSource;
use crate::testkit::{
    change_record, fields, log_records, quarantine_codes, u, Org, C1, CITY, WARD,
};
use crate::{Node, PeerLog};

const DISTRICT: &str = "hn.d01";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

/// The default rules with R1 at `months`, effective from `from`.
fn rules_toml(months: u32, from: NaiveDate) -> String {
    let mut r = RuleSet::default();
    r.r1.months = months;
    r.effective = from;
    r.to_toml().expect("toml")
}

fn r1_count(node: &Node, as_of: NaiveDate) -> usize {
    let (rules, _) = node.rule_set(as_of).expect("rules");
    node.screen(&rules, &node.calendar().expect("calendar"), as_of, None)
        .expect("screen")
        .iter()
        .filter(|f| f.rule == RuleId::R1)
        .count()
}

#[test]
fn the_citys_rule_set_reaches_every_scope_and_changes_the_screening() {
    let org = Org::new();
    // A cell member with two unpaid months: not flagged under the default threshold of three.
    let c1 = org.open(C1);
    let m = c1
        .add_member(
            crate::testkit::admitted("Phạm Thị Dung", C1, "2001-01-01"),
            vec![],
        )
        .expect("member");
    let mut e = LedgerEdit::new();
    for month in [1, 2] {
        e.set_dues(
            m,
            month,
            Dues::Unpaid {
                reason: None,
                accepted: false,
            },
        );
    }
    for month in [3, 4, 5] {
        let date = d(2025, month, 5);
        e.set_dues(
            m,
            month,
            Dues::Paid {
                amount: 20_000,
                date,
            },
        );
    }
    c1.edit_ledger(&u(C1), 2025, &e).expect("ledger");
    let as_of = d(2025, 6, 1);
    assert_eq!(r1_count(&c1, as_of), 0);
    assert_eq!(c1.rule_set(as_of).expect("rules").1, RulesSource::Default);
    drop(c1);

    let city = org.open(CITY);
    assert!(city.may_publish_org().expect("may"));
    let (effective, changed) = city
        .publish_rules(&rules_toml(2, d(2025, 1, 1)))
        .expect("publish");
    assert!(changed && effective == d(2025, 1, 1));
    // Publishing the same text again is no change; a rule set that does not validate is refused.
    assert!(
        !city
            .publish_rules(&rules_toml(2, d(2025, 1, 1)))
            .expect("again")
            .1
    );
    assert!(city.publish_rules(&rules_toml(0, d(2025, 1, 1))).is_err());
    // A later version, effective next year, does not replace this year's rules early.
    city.publish_rules(&rules_toml(5, d(2026, 1, 1)))
        .expect("next year");
    let records = log_records(&org, &city, &[CITY]);
    drop(city);

    // The ward's view of its log for a cell peer carries the city's versions down.
    let ward = org.open(WARD);
    let r = ward.accept_records(records, "peer:city").expect("accept");
    assert_eq!(r.rejected_total(), 0, "{:?}", r.applied.rejected);
    let mut log = PeerLog::new(&ward, org.public(C1), u(C1));
    let batch = log.read(0, 100).expect("read");
    let down: Vec<_> = crate::testkit::changes_of(&batch.records);
    assert_eq!(
        down.len(),
        3,
        "the tree and both rule versions go to the cell"
    );
    assert!(down.iter().all(|c| c.kind() == DocKind::Org));
    let mut to_cell = vec![org.chain_record(CITY)];
    to_cell.extend(down.iter().map(|c| Record::change(c.as_bytes().to_vec())));
    drop(ward);

    let c1 = org.open(C1);
    let r = c1.accept_records(to_cell, "peer:ward").expect("accept");
    assert_eq!(r.rejected_total(), 0);
    assert_eq!(
        c1.rule_set(as_of).expect("rules").1,
        RulesSource::Published(d(2025, 1, 1))
    );
    assert_eq!(r1_count(&c1, as_of), 1, "two months now flag");
    assert_eq!(c1.rule_set(d(2026, 3, 1)).expect("rules").0.r1.months, 5);
    assert!(c1.store().verify().expect("verify").is_clean());
}

#[test]
fn a_rule_set_signed_below_the_city_is_refused_and_quarantined() {
    let org = Org::new();
    let district = org.open(DISTRICT);
    assert!(!district.may_publish_org().expect("may"));
    assert!(district
        .publish_rules(&rules_toml(1, d(2025, 1, 1)))
        .is_err());
    // Forged all the same with the district's key: the cell quarantines it as unauthorized.
    let mut doc = district.store().org_doc(OrgDocKind::Rules).expect("doc");
    let change = doc
        .publish(
            actor_for(&org.public(DISTRICT)),
            "2025-01-01",
            &rules_toml(1, d(2025, 1, 1)),
            1,
        )
        .expect("publish")
        .expect("change");
    let vc = VerifiedChange::sign_own(
        &org.key(DISTRICT),
        DocKind::Org,
        MemberId(OrgDocKind::Rules.id()),
        change,
    )
    .expect("sign");
    drop(district);
    let c1 = org.open(C1);
    let r = c1
        .accept_records(
            vec![org.chain_record(DISTRICT), change_record(&vc)],
            "bundle:rules",
        )
        .expect("accept");
    assert_eq!(
        r.applied
            .rejected
            .iter()
            .map(|x| x.code)
            .collect::<Vec<_>>(),
        vec![RejectCode::Unauthorized]
    );
    assert_eq!(quarantine_codes(&c1), vec!["unauthorized"]);
    assert_eq!(
        c1.rule_set(d(2025, 6, 1)).expect("rules").1,
        RulesSource::Default
    );
}

#[test]
fn the_citys_tree_names_units_refuses_unknown_ones_and_gives_r14_its_wards() {
    let org = Org::new();
    let city = org.open(CITY);
    let tiny = city
        .org_tree()
        .expect("tree")
        .expect("bootstrap published it");
    assert!(tiny.unit(&u(C1)).is_some());
    // The city says which ward the first cell serves.
    let text = crate::testkit::TINY_TREE.replace(
        "path = \"hn.d01.w01.c01\"\nname = \"Chi bộ 1\"",
        "path = \"hn.d01.w01.c01\"\nname = \"Chi bộ 1\"\nkind = \"residential\"\nadmin_ward = \"Phường 1\"",
    );
    assert_ne!(text, crate::testkit::TINY_TREE);
    assert!(city.publish_tree(&text).expect("publish"));
    let records = log_records(&org, &city, &[CITY]);
    drop(city);
    let c1 = org.open(C1);
    c1.accept_records(records, "peer:ward").expect("accept");
    assert_eq!(c1.resolve_unit("chi bo 1").expect("by name"), u(C1));
    assert_eq!(c1.resolve_unit(C1).expect("by code"), u(C1));
    assert!(matches!(
        c1.resolve_unit("Chi bộ 9"),
        Err(crate::NodeError::NoSuchUnit(_))
    ));
    // A unit the tree does not have is refused even inside the node's scope.
    assert!(matches!(
        c1.add_member(fields("Ngô Văn Em", "hn.d01.w01.c01.x1"), vec![]),
        Err(crate::NodeError::UnknownUnit(_))
    ));
    let mut f = fields("Đỗ Thị Giang", C1);
    f.insert(Field::ResidenceWard, "phuong 2".into());
    let away = c1.add_member(f, vec![]).expect("lives elsewhere");
    let mut f = fields("Vũ Văn Hải", C1);
    f.insert(Field::ResidenceWard, "Phường 1".into());
    c1.add_member(f, vec![]).expect("lives here");
    let (rules, _) = c1.rule_set(d(2025, 6, 1)).expect("rules");
    let r14: Vec<_> = c1
        .screen(&rules, &c1.calendar().expect("cal"), d(2025, 6, 1), None)
        .expect("screen")
        .into_iter()
        .filter(|f| f.rule == RuleId::R14)
        .collect();
    assert_eq!(r14.len(), 1, "{r14:?}");
    assert_eq!(
        r14[0].subject,
        rollmesh_rules::Subject::Member(away.to_string())
    );
}
