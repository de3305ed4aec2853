//! Tests of the cell ledger document: the genesis change, merges of concurrent edits and conflicts,
//! read-back, validation, the year boundary and the size of a realistic year. Deterministic: member ids
//! and actors are derived from counters, times are constants.

use super::*;

fn cell() -> UnitPath {
    UnitPath::parse("hn.d01.w01.c01").expect("cell")
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("test date")
}

fn actor(n: u8) -> ActorId {
    ActorId::from([n; 16])
}

/// The `i`-th test member: a creation time and ten "random" bytes, both derived from `i`.
fn member(i: u32) -> MemberId {
    let digest = Sha256::digest(i.to_be_bytes());
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest[..10]);
    MemberId::new(1_600_000_000_000 + u64::from(i) * 86_400_000, random)
}

fn genesis(year: i32) -> LedgerDoc {
    LedgerDoc::genesis(&cell(), year).expect("genesis").0
}

fn regular(date: NaiveDate) -> MeetingKey {
    MeetingKey::new(date, MeetingKind::Regular)
}

fn absent(reason: Option<&str>, accepted: bool) -> Attendance {
    Attendance::Absent {
        reason: reason.map(str::to_string),
        accepted,
    }
}

fn unpaid(reason: Option<&str>, accepted: bool) -> Dues {
    Dues::Unpaid {
        reason: reason.map(str::to_string),
        accepted,
    }
}

fn paid(amount: u64, date: NaiveDate) -> Dues {
    Dues::Paid { amount, date }
}

/// Both documents hold the same changes and read the same.
fn assert_converged(a: &LedgerDoc, b: &LedgerDoc) {
    let mut ha = a.doc().get_heads();
    let mut hb = b.doc().get_heads();
    ha.sort();
    hb.sort();
    assert_eq!(ha, hb);
    assert_eq!(a.read(), b.read());
    assert_eq!(a.conflicts(), b.conflicts());
}

#[test]
fn genesis_is_the_same_change_everywhere() {
    let (a, ga) = LedgerDoc::genesis(&cell(), 2025).expect("genesis a");
    let (b, gb) = LedgerDoc::genesis(&cell(), 2025).expect("genesis b");
    assert_eq!(ga.hash(), gb.hash());
    assert_eq!(ga.raw_bytes(), gb.raw_bytes());
    assert_eq!(a.doc().get_heads(), vec![ga.hash()]);
    assert_eq!(b.save(), a.save());
    assert_eq!(ga.actor_id(), &a.id().genesis_actor());
    assert_eq!(ga.timestamp(), 0);
    assert!(ga.deps().is_empty());
    assert_eq!(ga.message(), Some("genesis"));
    assert_eq!(a.id(), LedgerId::of(&cell(), 2025));
    assert_eq!(a.read(), Ledger::new("hn.d01.w01.c01", 2025));
    assert!(a.conflicts().is_empty());

    // Another year or another cell is another document with another genesis.
    let (_, other_year) = LedgerDoc::genesis(&cell(), 2026).expect("genesis");
    let other_cell = UnitPath::parse("hn.d01.w01.c02").expect("cell");
    let (_, other_cell_genesis) = LedgerDoc::genesis(&other_cell, 2025).expect("genesis");
    assert_ne!(ga.hash(), other_year.hash());
    assert_ne!(ga.hash(), other_cell_genesis.hash());
    assert_ne!(LedgerId::of(&cell(), 2025), LedgerId::of(&cell(), 2026));
    assert_ne!(LedgerId::of(&cell(), 2025), LedgerId::of(&other_cell, 2025));
    // No ambiguity between a cell path ending in digits and the year.
    let c1 = UnitPath::parse("hn.c1").expect("cell");
    let c12 = UnitPath::parse("hn.c12").expect("cell");
    assert_ne!(LedgerId::of(&c1, 2025), LedgerId::of(&c12, 2025));

    // The id is SHA-256 over the documented encoding, and its text form round-trips.
    let mut h = Sha256::new();
    h.update(b"rollmesh/ledger/v1\0hn.d01.w01.c01\0");
    h.update(2025i32.to_be_bytes());
    assert_eq!(&a.id().as_bytes()[..], &h.finalize()[..16]);
    let text = a.id().to_string();
    assert_eq!(text.len(), 26);
    assert_eq!(text.parse::<LedgerId>(), Ok(a.id()));
    assert!("nope".parse::<LedgerId>().is_err());
}

#[test]
fn edits_on_top_of_independent_geneses_merge() {
    let (mut a, ga) = LedgerDoc::genesis(&cell(), 2025).expect("genesis");
    let mut b = genesis(2025);
    let march = regular(d(2025, 3, 11));
    let ca = {
        let mut e = LedgerEdit::new();
        e.record_meeting(march, "Nghị quyết tháng 3")
            .set_attendance(march, member(1), Attendance::Present);
        a.edit(actor(1), &e, 1_741_680_000)
            .expect("edit a")
            .expect("a change")
    };
    assert_eq!(ca.deps(), &[ga.hash()]);
    assert_eq!(ca.actor_id(), &actor(1));
    let cb = b
        .set_dues(
            actor(2),
            member(2),
            3,
            paid(30_000, d(2025, 3, 12)),
            1_741_700_000,
        )
        .expect("edit b")
        .expect("a change");
    assert_eq!(cb.deps(), &[ga.hash()]);
    // Each side receives the other's edit; the genesis is already there.
    a.apply_changes([cb]).expect("apply");
    b.apply_changes([ca]).expect("apply");
    assert_converged(&a, &b);
    let l = a.read();
    assert_eq!(l.meetings.len(), 1);
    assert_eq!(
        l.meetings[0].attendance.get(&member(1).to_string()),
        Some(&Attendance::Present)
    );
    assert_eq!(
        l.dues[&member(2).to_string()][&3],
        paid(30_000, d(2025, 3, 12))
    );
    assert!(a.conflicts().is_empty());

    // A third node that never made the genesis itself gets everything, genesis included, by merge.
    let mut c = LedgerDoc::from_doc(&cell(), 2025, {
        let mut doc = Automerge::new();
        doc.apply_changes(a.doc().get_changes(&[])).expect("apply");
        doc
    })
    .expect("a ledger");
    assert_converged(&a, &c);
    c.merge(&mut b).expect("same ledger");
    let mut other = genesis(2026);
    assert!(matches!(
        c.merge(&mut other),
        Err(LedgerError::DifferentLedgers(..))
    ));
}

#[test]
fn same_meeting_recorded_at_two_nodes_is_one_meeting() {
    let mut a = genesis(2025);
    let mut b = genesis(2025);
    let key = MeetingKey::new(d(2025, 6, 20), MeetingKind::Thematic);
    let mut ea = LedgerEdit::new();
    ea.record_meeting(key, "Học tập và làm theo tư tưởng Hồ Chí Minh")
        .set_attendance(key, member(1), Attendance::Present);
    let mut eb = LedgerEdit::new();
    // Typed on another keyboard: decomposed diacritics and extra spaces clean to the same topic.
    eb.record_meeting(
        key,
        "  Ho\u{323}c ta\u{302}\u{323}p và làm theo tư tưởng  Hồ Chí Minh ",
    )
    .set_attendance(key, member(2), absent(Some("Ốm"), true));
    let ca = a.edit(actor(1), &ea, 10).expect("a").expect("change");
    let cb = b.edit(actor(2), &eb, 10).expect("b").expect("change");
    a.apply_changes([cb]).expect("apply");
    b.apply_changes([ca]).expect("apply");
    assert_converged(&a, &b);
    let l = a.read();
    assert_eq!(l.meetings.len(), 1, "{l:?}");
    let m = &l.meetings[0];
    assert_eq!(
        (m.date, m.kind, m.topic.as_str()),
        (
            d(2025, 6, 20),
            MeetingKind::Thematic,
            "Học tập và làm theo tư tưởng Hồ Chí Minh"
        )
    );
    assert_eq!(m.attendance.len(), 2);
    // Identical concurrent topics are not a conflict.
    assert!(a.conflicts().is_empty(), "{:?}", a.conflicts());

    // Different topics set concurrently are.
    let ca = a
        .record_meeting(actor(1), key, "Chủ đề A", 20)
        .expect("a")
        .expect("change");
    let cb = b
        .record_meeting(actor(2), key, "Chủ đề B", 20)
        .expect("b")
        .expect("change");
    a.apply_changes([cb]).expect("apply");
    b.apply_changes([ca]).expect("apply");
    assert_converged(&a, &b);
    let conflicts = a.conflicts();
    let topics = &conflicts.topics[&key];
    assert_eq!(topics.len(), 2);
    assert_eq!(topics[0], a.read().meetings[0].topic, "winner first");
}

#[test]
fn concurrent_dues_for_one_member_month_are_listed() {
    let mut a = genesis(2025);
    let mut b = genesis(2025);
    let m = member(7);
    let ca = a
        .set_dues(actor(1), m, 4, paid(50_000, d(2025, 4, 8)), 100)
        .expect("a")
        .expect("change");
    let cb = b
        .set_dues(actor(2), m, 4, unpaid(Some("Đi công tác"), true), 100)
        .expect("b")
        .expect("change");
    // Different members and months at the same time do not conflict.
    let cc = b
        .set_dues(actor(2), member(8), 4, paid(20_000, d(2025, 4, 9)), 101)
        .expect("b")
        .expect("change");
    a.apply_changes([cb, cc]).expect("apply");
    b.apply_changes([ca]).expect("apply");
    assert_converged(&a, &b);
    let conflicts = a.conflicts();
    assert!(conflicts.topics.is_empty() && conflicts.attendance.is_empty());
    assert_eq!(conflicts.dues.len(), 1);
    let values = &conflicts.dues[&(m.to_string(), 4)];
    assert_eq!(values.len(), 2);
    let shown = &a.read().dues[&m.to_string()][&4];
    assert_eq!(&values[0], shown, "read shows the winner, listed first");
    assert!(values.contains(&paid(50_000, d(2025, 4, 8))));
    assert!(values.contains(&unpaid(Some("Đi công tác"), true)));

    // Writing the winning value again is not a no-op while in conflict: it resolves the conflict.
    let resolve = a
        .set_dues(actor(1), m, 4, shown.clone(), 200)
        .expect("edit")
        .expect("resolving change");
    b.apply_changes([resolve]).expect("apply");
    assert!(a.conflicts().is_empty());
    assert_converged(&a, &b);

    // Concurrent attendance for one member at one meeting is listed the same way.
    let key = regular(d(2025, 4, 15));
    let rec = a
        .record_meeting(actor(1), key, "", 300)
        .expect("a")
        .expect("change");
    b.apply_changes([rec]).expect("apply");
    let ca = a
        .set_attendance(actor(1), key, m, Attendance::Present, 301)
        .expect("a")
        .expect("change");
    let cb = b
        .set_attendance(actor(2), key, m, absent(None, false), 301)
        .expect("b")
        .expect("change");
    a.apply_changes([cb]).expect("apply");
    b.apply_changes([ca]).expect("apply");
    assert_converged(&a, &b);
    let listed = &a.conflicts().attendance[&(key, m.to_string())];
    assert_eq!(listed.len(), 2);
    assert_eq!(&listed[0], &a.read().meetings[0].attendance[&m.to_string()]);
}

#[test]
fn every_field_reads_back() {
    let mut l = genesis(2025);
    let jan = regular(d(2025, 1, 7));
    let jan_thematic = MeetingKey::new(d(2025, 1, 7), MeetingKind::Thematic);
    let mut e = LedgerEdit::new();
    e.record_meeting(jan, "Kế hoạch năm 2025")
        .record_meeting(jan_thematic, "Chuyên đề quý I")
        .set_attendance(jan, member(1), Attendance::Present)
        .set_attendance(jan, member(2), absent(Some("Ốm: nằm viện"), true))
        .set_attendance(jan, member(3), absent(Some("Bận việc riêng"), false))
        .set_attendance(jan, member(4), absent(None, false))
        .set_attendance(jan, member(5), absent(Some("   "), true))
        .set_attendance(jan_thematic, member(1), Attendance::Present);
    let c = l.edit(actor(1), &e, 1_000).expect("edit").expect("change");
    assert_eq!(
        c.message(),
        Some("hn.d01.w01.c01 2025: meeting 2025-01-07/regular 2025-01-07/thematic; attendance 6")
    );
    // A second regular meeting the same day gets the next number.
    let second = l.next_meeting_key(d(2025, 1, 7), MeetingKind::Regular);
    assert_eq!(
        second,
        MeetingKey::nth(d(2025, 1, 7), MeetingKind::Regular, 2)
    );
    assert_eq!(second.to_string(), "2025-01-07/regular-2");
    l.record_meeting(actor(1), second, "Bổ sung", 1_001)
        .expect("edit")
        .expect("change");
    assert_eq!(l.meeting_keys(), vec![jan, second, jan_thematic]);

    let mut sheet = LedgerEdit::new();
    sheet
        .set_dues(member(1), 1, paid(30_000, d(2025, 1, 7)))
        .set_dues(member(2), 1, paid(0, d(2025, 2, 3)))
        .set_dues(member(3), 1, unpaid(Some("Chưa nhận lương"), false))
        .set_dues(member(4), 1, unpaid(Some("Hoàn cảnh khó khăn"), true))
        .set_dues(member(5), 1, unpaid(None, false))
        .set_dues(member(1), 12, paid(u64::MAX, d(2026, 1, 5)));
    l.edit(actor(2), &sheet, 1_002)
        .expect("edit")
        .expect("change");
    l.clear_dues(actor(2), member(1), 12, 1_003)
        .expect("clear")
        .expect("change");

    let expected = Ledger {
        cell: "hn.d01.w01.c01".into(),
        year: 2025,
        meetings: vec![
            Meeting {
                date: d(2025, 1, 7),
                kind: MeetingKind::Regular,
                topic: "Kế hoạch năm 2025".into(),
                attendance: [
                    (member(1), Attendance::Present),
                    (member(2), absent(Some("Ốm: nằm viện"), true)),
                    (member(3), absent(Some("Bận việc riêng"), false)),
                    (member(4), absent(None, false)),
                    // A blank reason is no reason.
                    (member(5), absent(None, true)),
                ]
                .into_iter()
                .map(|(m, a)| (m.to_string(), a))
                .collect(),
            },
            Meeting {
                date: d(2025, 1, 7),
                kind: MeetingKind::Regular,
                topic: "Bổ sung".into(),
                attendance: BTreeMap::new(),
            },
            Meeting {
                date: d(2025, 1, 7),
                kind: MeetingKind::Thematic,
                topic: "Chuyên đề quý I".into(),
                attendance: [(member(1).to_string(), Attendance::Present)].into(),
            },
        ],
        dues: [
            (member(1), paid(30_000, d(2025, 1, 7))),
            (member(2), paid(0, d(2025, 2, 3))),
            (member(3), unpaid(Some("Chưa nhận lương"), false)),
            (member(4), unpaid(Some("Hoàn cảnh khó khăn"), true)),
            (member(5), unpaid(None, false)),
        ]
        .into_iter()
        .map(|(m, dues)| (m.to_string(), [(1u32, dues)].into()))
        .collect(),
        ratings: BTreeMap::new(),
        help: BTreeMap::new(),
    };
    assert_eq!(l.read(), expected);

    // Saved and loaded, or read without taking the document, it is the same ledger.
    let loaded = LedgerDoc::load(&cell(), 2025, &l.save()).expect("load");
    assert_eq!(loaded.read(), expected);
    assert_eq!(
        LedgerDoc::ledger_of(&cell(), 2025, l.doc()).expect("ledger"),
        expected
    );
}

#[test]
fn unchanged_values_make_no_change() {
    let mut l = genesis(2025);
    let key = regular(d(2025, 2, 4));
    l.record_meeting(actor(1), key, "Chủ đề", 1)
        .expect("edit")
        .expect("change");
    assert!(l
        .record_meeting(actor(1), key, " Chủ đề ", 2)
        .expect("edit")
        .is_none());
    l.set_attendance(actor(1), key, member(1), absent(Some("Ốm"), true), 3)
        .expect("edit")
        .expect("change");
    assert!(l
        .set_attendance(actor(1), key, member(1), absent(Some("Ốm"), true), 4)
        .expect("edit")
        .is_none());
    l.set_dues(actor(1), member(1), 2, paid(10_000, d(2025, 2, 4)), 5)
        .expect("edit")
        .expect("change");
    assert!(l
        .set_dues(actor(1), member(1), 2, paid(10_000, d(2025, 2, 4)), 6)
        .expect("edit")
        .is_none());
    assert!(l
        .clear_dues(actor(1), member(1), 3, 7)
        .expect("edit")
        .is_none());
    assert!(l
        .edit(actor(1), &LedgerEdit::new(), 8)
        .expect("edit")
        .is_none());
    let heads = l.doc().get_heads();
    assert_eq!(l.doc().get_changes(&[]).len(), 4, "genesis and three edits");
    assert_eq!(l.doc().get_heads(), heads);
}

#[test]
fn invalid_edits_are_refused() {
    let mut l = genesis(2025);
    let key = regular(d(2025, 5, 6));
    l.record_meeting(actor(1), key, "", 1)
        .expect("edit")
        .expect("change");
    let m = member(1);
    let refused = |l: &mut LedgerDoc, e: &LedgerEdit| l.edit(actor(1), e, 2).expect_err("refused");

    for month in [0, 13, 99] {
        let mut e = LedgerEdit::new();
        e.set_dues(m, month, paid(1, d(2025, 5, 6)));
        assert!(matches!(refused(&mut l, &e), LedgerError::Month(x) if x == month));
        let mut e = LedgerEdit::new();
        e.clear_dues(m, month);
        assert!(matches!(refused(&mut l, &e), LedgerError::Month(_)));
    }
    for bad in [
        "Ốm\u{0007}",
        "lý do\u{0000}",
        "\u{202E}gnol",
        "a\u{2066}b",
        "\u{200F}x",
    ] {
        let mut e = LedgerEdit::new();
        e.set_attendance(key, m, absent(Some(bad), true));
        assert!(
            matches!(
                refused(&mut l, &e),
                LedgerError::Text { what: "reason", .. }
            ),
            "{bad:?}"
        );
        let mut e = LedgerEdit::new();
        e.set_dues(m, 5, unpaid(Some(bad), true));
        assert!(matches!(refused(&mut l, &e), LedgerError::Text { .. }));
        let mut e = LedgerEdit::new();
        e.record_meeting(key, bad);
        assert!(matches!(
            refused(&mut l, &e),
            LedgerError::Text { what: "topic", .. }
        ));
    }
    let mut e = LedgerEdit::new();
    e.record_meeting(key, &"x".repeat(MAX_TEXT_CHARS + 1));
    assert!(matches!(refused(&mut l, &e), LedgerError::Text { .. }));
    // Line breaks and tabs are white space: cleaned, not refused.
    let mut e = LedgerEdit::new();
    e.set_attendance(key, m, absent(Some("Ốm\n\tnằm viện"), true));
    l.edit(actor(1), &e, 3).expect("edit").expect("change");
    assert_eq!(
        l.read().meetings[0].attendance[&m.to_string()],
        absent(Some("Ốm nằm viện"), true)
    );

    // Attendance needs a recorded meeting (earlier, or in the same edit).
    let unknown = regular(d(2025, 5, 20));
    let mut e = LedgerEdit::new();
    e.set_attendance(unknown, m, Attendance::Present);
    assert!(matches!(refused(&mut l, &e), LedgerError::UnknownMeeting(k) if k == unknown));
    e.record_meeting(unknown, "");
    l.edit(actor(1), &e, 4).expect("edit").expect("change");

    // Meeting numbers 1..=9.
    for n in [0, MAX_SAME_DAY + 1] {
        let mut e = LedgerEdit::new();
        e.record_meeting(MeetingKey::nth(d(2025, 5, 6), MeetingKind::Regular, n), "");
        assert!(matches!(refused(&mut l, &e), LedgerError::MeetingNumber(_)));
    }
    // Set and cleared at once.
    let mut e = LedgerEdit::new();
    e.set_dues(m, 5, paid(1, d(2025, 5, 6))).clear_dues(m, 5);
    assert!(matches!(
        refused(&mut l, &e),
        LedgerError::SetAndCleared { month: 5, .. }
    ));
    // A payment date no dossier would accept.
    let mut e = LedgerEdit::new();
    e.set_dues(m, 5, paid(1, d(1800, 1, 1)));
    assert!(matches!(refused(&mut l, &e), LedgerError::PaymentDate(_)));
    // The genesis actor authors the genesis only.
    let mut e = LedgerEdit::new();
    e.set_dues(m, 5, paid(1, d(2025, 5, 6)));
    assert!(matches!(
        l.edit(l.id().genesis_actor(), &e, 5),
        Err(LedgerError::GenesisActor)
    ));
    // Years outside 1900-2200.
    assert!(matches!(
        LedgerDoc::genesis(&cell(), 1899),
        Err(LedgerError::Year(1899))
    ));
    assert!(matches!(
        LedgerDoc::genesis(&cell(), 2201),
        Err(LedgerError::Year(2201))
    ));
    // Refusals changed nothing.
    let l2 = l.read();
    assert_eq!(l2.meetings.len(), 2);
    assert!(l2.dues.is_empty());
}

#[test]
fn meetings_must_fall_in_the_ledgers_year() {
    let mut l = genesis(2025);
    for date in [d(2024, 12, 31), d(2026, 1, 1), d(1999, 6, 1)] {
        let key = regular(date);
        assert!(matches!(
            l.record_meeting(actor(1), key, "", 1),
            Err(LedgerError::OutsideYear { meeting, year: 2025 }) if meeting == key
        ));
        assert!(matches!(
            l.set_attendance(actor(1), key, member(1), Attendance::Present, 1),
            Err(LedgerError::OutsideYear { .. })
        ));
    }
    for date in [d(2025, 1, 1), d(2025, 12, 31)] {
        l.record_meeting(actor(1), regular(date), "", 1)
            .expect("in the year")
            .expect("change");
    }
    let dates: Vec<NaiveDate> = l.read().meetings.iter().map(|m| m.date).collect();
    assert_eq!(dates, vec![d(2025, 1, 1), d(2025, 12, 31)]);
    // Dues paid for December in the next January are fine: the payment date is not the month.
    l.set_dues(actor(1), member(1), 12, paid(10_000, d(2026, 1, 10)), 2)
        .expect("edit")
        .expect("change");
}

#[test]
fn foreign_and_mismatched_documents_are_refused() {
    assert!(matches!(
        LedgerDoc::from_doc(&cell(), 2025, Automerge::new()),
        Err(LedgerError::NotALedger)
    ));
    let l = genesis(2025);
    assert!(matches!(
        LedgerDoc::from_doc(&cell(), 2026, l.doc().clone()),
        Err(LedgerError::WrongLedger {
            found_year: Some(2025),
            ..
        })
    ));
    let other = UnitPath::parse("hn.d01.w01.c02").expect("cell");
    assert!(matches!(
        LedgerDoc::load(&other, 2025, &l.save()),
        Err(LedgerError::WrongLedger { .. })
    ));
    // A skeleton built by some node's own actor instead of the genesis change is refused: merged with
    // the real one, its maps would be rival root objects.
    let mut forged = Automerge::new().with_actor(actor(9));
    forged
        .transact::<_, _, AutomergeError>(|tx| {
            tx.put(ROOT, "kind", LEDGER_KIND)?;
            tx.put(ROOT, "cell", "hn.d01.w01.c01")?;
            tx.put(ROOT, "year", 2025i64)?;
            for key in [MEETINGS, MEMBERS] {
                tx.put_object(ROOT, key, ObjType::Map)?;
            }
            Ok(())
        })
        .map_err(|f| f.error)
        .expect("forge");
    assert!(matches!(
        LedgerDoc::from_doc(&cell(), 2025, forged.clone()),
        Err(LedgerError::NotALedger)
    ));
    let mut merged = l.doc().clone();
    merged.merge(&mut forged).expect("merge");
    assert!(matches!(
        LedgerDoc::from_doc(&cell(), 2025, merged),
        Err(LedgerError::NotALedger)
    ));
}

#[test]
fn keys_and_codes_round_trip() {
    for text in [
        "2025-03-11/regular",
        "2025-03-11/thematic",
        "2025-12-31/regular-2",
        "2025-01-01/thematic-9",
    ] {
        let key: MeetingKey = text.parse().expect(text);
        assert_eq!(key.to_string(), text);
    }
    for bad in [
        "2025-3-11/regular",
        "2025-03-11/regular-1",
        "2025-03-11/regular-02",
        "2025-03-11/regular-10",
        "2025-03-11/Regular",
        "2025-02-30/regular",
        "2025-03-11",
        "2025-03-11/regular/x",
    ] {
        assert!(bad.parse::<MeetingKey>().is_err(), "{bad}");
    }
    for a in [
        Attendance::Present,
        absent(None, true),
        absent(None, false),
        absent(Some("Ốm: sốt cao"), true),
        absent(Some("x"), false),
    ] {
        let code = encode_attendance(&a).expect("code");
        assert_eq!(decode_attendance(&code), Some(a));
    }
    for dues in [
        paid(0, d(2025, 1, 1)),
        paid(u64::MAX, d(2200, 12, 31)),
        unpaid(None, true),
        unpaid(Some("Đi học: 3 tháng"), false),
    ] {
        let code = encode_dues(&dues).expect("code");
        assert_eq!(decode_dues(&code), Some(dues));
    }
    assert_eq!(encode_attendance(&Attendance::Present).expect("code"), "p");
    assert_eq!(
        encode_dues(&paid(30_000, d(2025, 3, 5))).expect("code"),
        "p:30000:2025-03-05"
    );
    for junk in ["", "x", "p:", "p:-1:2025-01-01", "p:1", "u", "a+"] {
        assert_eq!(decode_dues(junk), None, "{junk}");
    }
    assert_eq!(parse_dues_key("d/03"), Some(3));
    assert_eq!(dues_key(3), "d/03");
    for junk in ["d/3", "d/13", "d/00", "x/03", "03"] {
        assert_eq!(parse_dues_key(junk), None, "{junk}");
    }
    let march = regular(d(2025, 3, 11));
    assert_eq!(attendance_key(&march), "a/2025-03-11/regular");
    assert_eq!(parse_attendance_key("a/2025-03-11/regular"), Some(march));
    assert_eq!(parse_attendance_key("2025-03-11/regular"), None);
    let note = HelpEntry::Note(d(2025, 4, 1));
    assert_eq!(parse_help_key(&help_key(note)), Some(note));
    assert_eq!(parse_help_key("h/note/2025-4-1"), None);
}

/// The size target of docs/BRIEF.md: a realistic year of a 40-member cell — 12 regular and 4 thematic
/// meetings with everyone's attendance, 12 months of everyone's dues — made as one change per meeting
/// and one per month's dues sheet, by two secretaries' nodes, takes at most 1 KB per member saved whole,
/// and at most 400 bytes per member as the separate compressed changes a store keeps.
#[test]
fn a_year_of_a_forty_member_cell_fits_in_a_kilobyte_per_member() {
    const MEMBERS: u32 = 40;
    let members: Vec<MemberId> = (0..MEMBERS).map(member).collect();
    let (mut l, _) = LedgerDoc::genesis(&cell(), 2025).expect("genesis");
    let topics = [
        "Quán triệt nghị quyết của Đảng ủy phường về nhiệm vụ năm 2025",
        "Kiểm điểm việc thực hiện nhiệm vụ tháng, phương hướng tháng tới",
        "Công tác phát triển đảng viên và xây dựng chi bộ trong sạch vững mạnh",
    ];
    let thematic = [
        "Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh",
        "Chuyển đổi số và cải cách hành chính ở khu dân cư",
        "Công tác dân vận, xây dựng khối đại đoàn kết toàn dân tộc",
        "Phòng, chống tham nhũng, tiêu cực và lãng phí",
    ];
    // A simple deterministic pattern: most members present, a few excused, a few not.
    let attendance = |meeting: u32, i: u32| match (meeting * 7 + i * 13) % 40 {
        0 => absent(Some("Ốm, có giấy xin phép"), true),
        1 => absent(Some("Đi công tác"), true),
        2 => absent(Some("Bận việc gia đình"), false),
        3 => absent(None, false),
        _ => Attendance::Present,
    };
    let mut time = 1_735_689_600; // 2025-01-01T00:00:00Z
    let mut changes = 1;
    for month in 1..=12u32 {
        let secretary = actor(1 + (month % 2) as u8);
        let mut meetings = vec![(
            MeetingKey::new(d(2025, month, 5), MeetingKind::Regular),
            topics[month as usize % topics.len()],
        )];
        if month.is_multiple_of(3) {
            meetings.push((
                MeetingKey::new(d(2025, month, 20), MeetingKind::Thematic),
                thematic[month as usize / 3 - 1],
            ));
        }
        for (n, (key, topic)) in meetings.into_iter().enumerate() {
            let mut e = LedgerEdit::new();
            e.record_meeting(key, topic);
            for (i, m) in members.iter().enumerate() {
                e.set_attendance(key, *m, attendance(month * 2 + n as u32, i as u32));
            }
            time += 86_400;
            l.edit(secretary.clone(), &e, time)
                .expect("meeting")
                .expect("change");
            changes += 1;
        }
        let mut sheet = LedgerEdit::new();
        for (i, m) in members.iter().enumerate() {
            let i = i as u32;
            let dues = if (month + i).is_multiple_of(31) {
                unpaid(Some("Hoàn cảnh khó khăn, chi bộ miễn"), true)
            } else if (month + i).is_multiple_of(37) {
                unpaid(None, false)
            } else {
                // 1% of a salary, rounded to a thousand đồng.
                paid(
                    u64::from(20 + (i * 17) % 130) * 1_000,
                    d(2025, month, 5 + i % 10),
                )
            };
            sheet.set_dues(*m, month, dues);
        }
        time += 86_400;
        l.edit(secretary, &sheet, time)
            .expect("dues sheet")
            .expect("change");
        changes += 1;
    }
    let ledger = l.read();
    assert_eq!(ledger.meetings.len(), 16);
    assert!(ledger
        .meetings
        .iter()
        .all(|m| m.attendance.len() == MEMBERS as usize));
    assert_eq!(ledger.dues.len(), MEMBERS as usize);
    assert!(ledger.dues.values().all(|months| months.len() == 12));
    assert_eq!(l.doc().get_changes(&[]).len(), changes);

    let saved = l.save();
    let per_member = saved.len() / MEMBERS as usize;
    // The store also keeps each change (compressed on its own) until it compacts: shown, not asserted.
    let change_bytes: usize = l
        .doc()
        .get_changes(&[])
        .into_iter()
        .map(|mut c| c.bytes().len())
        .sum();
    println!(
        "ledger of {MEMBERS} members, 16 meetings, 12 months, {changes} changes: save() {} bytes = \
         {per_member} bytes per member-year (save_nocompress {} bytes; the changes one by one {} bytes)",
        saved.len(),
        l.doc().save_nocompress().len(),
        change_bytes
    );
    assert!(per_member <= 1_024, "{per_member} bytes per member-year");
    // The signed changes are what a node stores and sends: each member's id is written once a year,
    // in the change that makes their map, not in every sheet (that cost about 120 bytes more).
    let changes_per_member = change_bytes / MEMBERS as usize;
    assert!(
        changes_per_member <= 400,
        "{changes_per_member} bytes of changes per member-year"
    );
    // And it loads back to the same ledger.
    assert_eq!(
        LedgerDoc::load(&cell(), 2025, &saved).expect("load").read(),
        ledger
    );
}

#[test]
fn an_edit_names_its_ledger_and_cannot_name_another() {
    let mut l = genesis(2025);
    let mut e = LedgerEdit::new();
    e.set_dues(
        member(1),
        3,
        Dues::Unpaid {
            reason: None,
            accepted: false,
        },
    );
    let c = l.edit(actor(1), &e, 5).expect("edit").expect("change");
    assert_eq!(
        l.id().identify(c.message()),
        Some(LedgerName::cell(cell(), 2025))
    );
    // The same words under another ledger's id, or a message naming another year, identify nothing.
    let other = LedgerId::of(&cell(), 2026);
    assert_eq!(other.identify(c.message()), None);
    assert_eq!(l.id().identify(Some("hn.d01.w01.c01 2026: dues 1")), None);
    assert_eq!(l.id().identify(Some("genesis")), None);
    assert_eq!(l.id().identify(None), None);
}

#[test]
fn ratings_and_the_help_list_read_back_and_stay_in_their_year() {
    let mut l = genesis(2025);
    let mut e = LedgerEdit::new();
    e.set_rating(member(1), Rating::NotCompleted)
        .set_rating(member(2), Rating::Excellent)
        .help_start(member(1), d(2025, 3, 2))
        .help_note(member(1), d(2025, 6, 30), "  Đã  đóng đủ đảng phí ")
        .help_end(member(2), d(2025, 12, 31));
    let c = l.edit(actor(1), &e, 7).expect("edit").expect("change");
    assert_eq!(
        c.message(),
        Some("hn.d01.w01.c01 2025: ratings 2; help list 3")
    );
    let r = l.read();
    assert_eq!(r.ratings[&member(1).to_string()], Rating::NotCompleted);
    assert_eq!(r.ratings[&member(2).to_string()], Rating::Excellent);
    let h = &r.help[&member(1).to_string()];
    assert_eq!(h.start, Some(d(2025, 3, 2)));
    assert_eq!(h.notes[&d(2025, 6, 30)], "Đã đóng đủ đảng phí");
    assert_eq!(r.help[&member(2).to_string()].end, Some(d(2025, 12, 31)));
    // A rating set again to the same level changes nothing; a list entry of another year is refused.
    let mut same = LedgerEdit::new();
    same.set_rating(member(1), Rating::NotCompleted);
    assert!(l.edit(actor(1), &same, 8).expect("edit").is_none());
    let mut wrong = LedgerEdit::new();
    wrong.help_start(member(3), d(2026, 1, 5));
    assert!(matches!(
        l.edit(actor(1), &wrong, 9),
        Err(LedgerError::HelpOutsideYear { .. })
    ));
}

#[test]
fn ratings_parse_as_clerks_type_them() {
    assert_eq!(
        Rating::parse("Hoàn thành xuất sắc nhiệm vụ"),
        Some(Rating::Excellent)
    );
    assert_eq!(Rating::parse("hoan thanh tot"), Some(Rating::Good));
    assert_eq!(
        Rating::parse("Hoàn thành nhiệm vụ"),
        Some(Rating::Completed)
    );
    assert_eq!(
        Rating::parse("KHÔNG HOÀN THÀNH NHIỆM VỤ"),
        Some(Rating::NotCompleted)
    );
    assert_eq!(Rating::parse("not completed"), Some(Rating::NotCompleted));
    assert_eq!(Rating::parse("tốt lắm"), None);
    // The short words a clerk writes in a ratings column.
    assert_eq!(Rating::parse("Xuất sắc"), Some(Rating::Excellent));
    assert_eq!(Rating::parse("tốt"), Some(Rating::Good));
    assert_eq!(Rating::parse(""), None);
}
