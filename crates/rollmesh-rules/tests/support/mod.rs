//! Builders shared by the integration tests: dates, members, ledgers and a quick way to run the engine.
#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rollmesh_model::Status;
use rollmesh_rules::{
    evaluate, Attendance, Calendar, CellFacts, Dues, Flag, Ledger, Meeting, MeetingKind,
    MemberFacts, RuleId, RuleSet,
};

/// A date the test knows to exist.
pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("test date")
}

/// Vietnam's calendar for the shipped years.
pub fn vn() -> Calendar {
    Calendar::vietnam(2024..=2027).expect("shipped years")
}

pub fn member(id: &str, cell: &str, status: Status) -> MemberFacts {
    MemberFacts::new(id, cell, status)
}

pub fn cell(unit: &str) -> CellFacts {
    CellFacts {
        unit: unit.to_string(),
        admin_ward: None,
    }
}

pub fn paid(y: i32, m: u32) -> Dues {
    Dues::Paid {
        amount: 10_000,
        date: d(y, m, 10),
    }
}

pub fn unpaid(reason: Option<&str>, accepted: bool) -> Dues {
    Dues::Unpaid {
        reason: reason.map(str::to_string),
        accepted,
    }
}

pub fn absent(reason: Option<&str>, accepted: bool) -> Attendance {
    Attendance::Absent {
        reason: reason.map(str::to_string),
        accepted,
    }
}

/// A ledger where `member` paid in each of `months`.
pub fn dues_ledger(cell: &str, year: i32, member: &str, months: &[u32]) -> Ledger {
    let mut l = Ledger::new(cell, year);
    let entries = l.dues.entry(member.to_string()).or_default();
    for &m in months {
        entries.insert(m, paid(year, m));
    }
    l
}

/// Sets one member's dues for one month.
pub fn set_dues(l: &mut Ledger, member: &str, month: u32, dues: Dues) {
    l.dues
        .entry(member.to_string())
        .or_default()
        .insert(month, dues);
}

/// A meeting on `date` with the given attendance.
pub fn meeting(date: NaiveDate, kind: MeetingKind, attendance: &[(&str, Attendance)]) -> Meeting {
    Meeting {
        date,
        kind,
        topic: String::new(),
        attendance: attendance
            .iter()
            .map(|(id, a)| (id.to_string(), a.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// A full year of meetings: a regular one on the 5th of every month and a thematic one on the 20th of
/// each quarter's last month, `member` present at all of them.
pub fn full_year(cell: &str, year: i32, member: &str) -> Ledger {
    let mut l = Ledger::new(cell, year);
    for m in 1..=12 {
        l.meetings.push(meeting(
            d(year, m, 5),
            MeetingKind::Regular,
            &[(member, Attendance::Present)],
        ));
        if m % 3 == 0 {
            l.meetings.push(meeting(
                d(year, m, 20),
                MeetingKind::Thematic,
                &[(member, Attendance::Present)],
            ));
        }
        l.dues
            .entry(member.to_string())
            .or_default()
            .insert(m, paid(year, m));
    }
    l
}

/// Runs the engine, which must accept the inputs.
pub fn run(
    rules: &RuleSet,
    members: &[MemberFacts],
    cells: &[CellFacts],
    ledgers: &[Ledger],
    as_of: NaiveDate,
) -> Vec<Flag> {
    evaluate(rules, &vn(), members, cells, ledgers, as_of).expect("valid rules")
}

/// The flags of one rule.
pub fn of(flags: &[Flag], rule: RuleId) -> Vec<Flag> {
    flags.iter().filter(|f| f.rule == rule).cloned().collect()
}
