//! The evaluation: facts in, sorted flags out. A member's flags depend only on that member's facts, its
//! cell's facts and the ledgers; a cell's flags only on the cell and its own ledgers. That is what makes
//! the flags at a parent node the union of its children's (tested in `tests/union.rs`), and any node
//! holding the same facts lists the same flags.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate};

use crate::calendar::Calendar;
use crate::facts::{
    excused, Attendance, CellFacts, Dues, Ledger, Meeting, MeetingKind, MemberFacts,
};
use crate::flag::{Evidence, Flag, RuleId, Subject};
use crate::rules::{RuleSet, RuleSetError};

/// Evaluates every rule of `rules` over the facts as they stood on `as_of`, and returns the flags sorted
/// (see [`Flag`]'s order) without duplicates.
///
/// `members` and `cells` are the subjects (a node passes those of its scope); `ledgers` are read for
/// every member whatever cell keeps them, so a member attached to a host cell is judged on the host's
/// ledger. A month whose ledger is missing from `ledgers` is unknown, never unpaid.
pub fn evaluate(
    rules: &RuleSet,
    calendar: &Calendar,
    members: &[MemberFacts],
    cells: &[CellFacts],
    ledgers: &[Ledger],
    as_of: NaiveDate,
) -> Result<Vec<Flag>, RuleSetError> {
    rules.validate()?;
    if as_of < rules.effective {
        return Err(RuleSetError::NotYetEffective {
            effective: rules.effective,
            as_of,
        });
    }
    let index = Index::build(ledgers);
    let years = Years::new(rules, calendar, as_of);
    // The first entry for a unit wins, whatever the order of later duplicates.
    let mut cell_facts: BTreeMap<&str, &CellFacts> = BTreeMap::new();
    for c in cells {
        cell_facts.entry(c.unit.as_str()).or_insert(c);
    }
    let ctx = Ctx {
        rules,
        index: &index,
        years: &years,
        as_of,
    };

    let mut flags = Vec::new();
    for m in members {
        if rules.departed.contains(&m.status) {
            continue;
        }
        let excluded = rules.r12.excluded.contains(&m.status);
        if rules.r1.enabled && rules.r1.statuses.contains(&m.status) && !excluded {
            flags.extend(years.each().filter_map(|y| ctx.r1(m, y)));
        }
        if rules.r2.enabled && rules.r2.statuses.contains(&m.status) && !excluded {
            flags.extend(years.each().filter_map(|y| ctx.r2(m, y)));
        }
        if rules.r4.enabled && rules.r4.statuses.contains(&m.status) {
            flags.extend(ctx.r4(m));
        }
        if rules.r6.enabled && rules.r6.statuses.contains(&m.status) {
            flags.extend(ctx.r6(m));
        }
        flags.extend(crate::cases::deadlines(rules, calendar, m, as_of));
        if rules.r14.enabled && rules.r14.statuses.contains(&m.status) {
            let cell = cell_facts.get(m.cell.as_str()).copied();
            flags.extend(ctx.r14(m, cell));
        }
    }
    if rules.r11.enabled {
        for unit in cell_facts.keys() {
            flags.extend(years.each().filter_map(|y| ctx.r11(unit, y)));
        }
    }
    flags.sort();
    flags.dedup();
    Ok(flags)
}

/// How many members of `cell` a cell vote is counted over (R12: exempted members are left out).
pub fn vote_denominator(rules: &RuleSet, members: &[MemberFacts], cell: &str) -> usize {
    let mut seen = BTreeSet::new();
    members
        .iter()
        .filter(|m| m.cell == cell && rules.counts_in_vote(m.status))
        .filter(|m| seen.insert(m.id.as_str()))
        .count()
}

/// One ledger's dues for one member: (ledger year, month → dues).
type DuesYear<'a> = (i32, &'a BTreeMap<u32, Dues>);

/// The ledgers, indexed once per evaluation.
struct Index<'a> {
    /// The (cell, year) ledgers we hold.
    present: BTreeSet<(&'a str, i32)>,
    /// Dues by member id: (ledger year, month → dues), from every ledger.
    dues: BTreeMap<&'a str, Vec<DuesYear<'a>>>,
    /// Attendance by member id, from every ledger.
    attendance: BTreeMap<&'a str, Vec<(&'a Meeting, &'a Attendance)>>,
    /// Meetings by the cell that held them.
    meetings: BTreeMap<&'a str, Vec<&'a Meeting>>,
}

impl<'a> Index<'a> {
    fn build(ledgers: &'a [Ledger]) -> Index<'a> {
        let mut index = Index {
            present: BTreeSet::new(),
            dues: BTreeMap::new(),
            attendance: BTreeMap::new(),
            meetings: BTreeMap::new(),
        };
        for l in ledgers {
            index.present.insert((l.cell.as_str(), l.year));
            for (member, months) in &l.dues {
                index
                    .dues
                    .entry(member.as_str())
                    .or_default()
                    .push((l.year, months));
            }
            for meeting in &l.meetings {
                index
                    .meetings
                    .entry(l.cell.as_str())
                    .or_default()
                    .push(meeting);
                for (member, att) in &meeting.attendance {
                    index
                        .attendance
                        .entry(member.as_str())
                        .or_default()
                        .push((meeting, att));
                }
            }
        }
        index
    }

    fn has(&self, cell: &str, year: i32) -> bool {
        self.present.contains(&(cell, year))
    }
}

/// The first and last day of a month.
fn month_bounds(year: i32, month: u32) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let last = first.checked_add_months(Months::new(1))?.pred_opt()?;
    Some((first, last))
}

/// The calendar years looked at, with the months of each that count on the evaluation date.
struct Years {
    /// Year → counted months, ascending. A month counts once `grace_working_days` working days after
    /// its last day are over before `as_of` (with no grace: its last day is before `as_of`).
    counted: BTreeMap<i32, Vec<u32>>,
}

impl Years {
    fn new(rules: &RuleSet, calendar: &Calendar, as_of: NaiveDate) -> Years {
        let grace = rules.counting.grace_working_days;
        // lookback_years is validated to at most 10.
        let back = i32::try_from(rules.counting.lookback_years).unwrap_or(0);
        let mut counted = BTreeMap::new();
        for year in (as_of.year() - back)..=as_of.year() {
            let months: Vec<u32> = (1..=12)
                .filter(|&m| {
                    month_bounds(year, m)
                        .and_then(|(_, last)| calendar.add_working_days(last, grace))
                        .is_some_and(|deadline| deadline < as_of)
                })
                .collect();
            counted.insert(year, months);
        }
        Years { counted }
    }

    fn each(&self) -> impl Iterator<Item = i32> + '_ {
        self.counted.keys().copied()
    }

    fn months(&self, year: i32) -> &[u32] {
        self.counted.get(&year).map(Vec::as_slice).unwrap_or(&[])
    }
}

struct Ctx<'a> {
    rules: &'a RuleSet,
    index: &'a Index<'a>,
    years: &'a Years,
    as_of: NaiveDate,
}

/// "2, 3, 5".
fn list<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn vi_date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

pub(crate) fn en_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// "1 month" / "3 months".
fn count_en(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn plural_en<'s>(n: usize, one: &'s str, many: &'s str) -> &'s str {
    if n == 1 {
        one
    } else {
        many
    }
}

fn threshold_met(count: usize, threshold: u32) -> bool {
    u32::try_from(count).map_or(true, |c| c >= threshold)
}

/// Whether the member was a member for the whole of the month that starts on `first`.
fn member_all_month(m: &MemberFacts, first: NaiveDate) -> bool {
    m.admitted.is_none_or(|a| a <= first)
}

impl Ctx<'_> {
    fn member_flag(
        &self,
        rule: RuleId,
        m: &MemberFacts,
        year: Option<i32>,
        vi: String,
        en: String,
        evidence: Evidence,
    ) -> Flag {
        Flag {
            rule,
            subject: Subject::Member(m.id.clone()),
            unit: m.cell.clone(),
            year,
            explanation_vi: vi,
            explanation_en: en,
            evidence,
        }
    }

    /// Whether every ledger that should hold the member's entry for this month is here: the home
    /// cell's unless the member spent the whole month attached elsewhere, and the host's if the
    /// attachment touches the month. Without them a missing entry proves nothing.
    fn responsible_ledgers_held(
        &self,
        m: &MemberFacts,
        year: i32,
        first: NaiveDate,
        last: NaiveDate,
    ) -> bool {
        let attachment = m.temporary.as_ref().filter(|a| a.overlaps(first, last));
        let home_needed = attachment.is_none_or(|a| !a.covers(first, last));
        (!home_needed || self.index.has(&m.cell, year))
            && attachment.is_none_or(|a| self.index.has(&a.host_cell, year))
    }

    /// R1: months of `year` with no payment and no accepted reason.
    fn r1(&self, m: &MemberFacts, year: i32) -> Option<Flag> {
        let rule = &self.rules.r1;
        let entries = self.index.dues.get(m.id.as_str());
        let mut unpaid = Vec::new();
        let mut counted_through = None;
        for &month in self.years.months(year) {
            let Some((first, last)) = month_bounds(year, month) else {
                continue;
            };
            if !member_all_month(m, first) {
                continue;
            }
            counted_through = Some(last);
            let (mut paid, mut excuse, mut recorded) = (false, false, false);
            for (ledger_year, months) in entries.into_iter().flatten() {
                if *ledger_year != year {
                    continue;
                }
                match months.get(&month) {
                    // Paid after the evaluation date: on that date the payment did not exist yet.
                    Some(Dues::Paid { date, .. }) if *date > self.as_of => {}
                    Some(Dues::Paid { .. }) => paid = true,
                    Some(Dues::Unpaid { reason, accepted }) => {
                        recorded = true;
                        excuse |= excused(reason, *accepted);
                    }
                    None => {}
                }
            }
            if paid || excuse {
                continue;
            }
            if recorded || self.responsible_ledgers_held(m, year, first, last) {
                unpaid.push(month);
            }
        }
        if unpaid.is_empty() || !threshold_met(unpaid.len(), rule.months) {
            return None;
        }
        let n = unpaid.len();
        let vi = format!(
            "Không đóng đảng phí {n} tháng trong năm {year} (tháng {}) mà không có lý do được chấp nhận",
            list(&unpaid)
        );
        let en = format!(
            "No dues paid in {} of {year} ({} {}) without an accepted reason",
            count_en(n, "month", "months"),
            plural_en(n, "month", "months"),
            list(&unpaid)
        );
        let evidence = Evidence::Dues {
            year,
            months: unpaid,
            threshold: rule.months,
            counted_through: counted_through?,
        };
        Some(self.member_flag(RuleId::R1, m, Some(year), vi, en, evidence))
    }

    /// R2: months of `year` in which the member missed a counted meeting without accepted reason and
    /// attended none.
    fn r2(&self, m: &MemberFacts, year: i32) -> Option<Flag> {
        let rule = &self.rules.r2;
        let entries = self.index.attendance.get(m.id.as_str())?;
        let mut months = Vec::new();
        let mut missed = Vec::new();
        let mut counted_through = None;
        for &month in self.years.months(year) {
            let Some((first, last)) = month_bounds(year, month) else {
                continue;
            };
            if !member_all_month(m, first) {
                continue;
            }
            counted_through = Some(last);
            let mut present = false;
            let mut absences = Vec::new();
            for (meeting, att) in entries {
                if meeting.date < first
                    || meeting.date > last
                    || meeting.date > self.as_of
                    || !rule.meeting_kinds.contains(&meeting.kind)
                {
                    continue;
                }
                match att {
                    Attendance::Present => present = true,
                    Attendance::Absent { reason, accepted } => {
                        if !excused(reason, *accepted) {
                            absences.push(meeting.date);
                        }
                    }
                }
            }
            if !present && !absences.is_empty() {
                months.push(month);
                missed.extend(absences);
            }
        }
        if months.is_empty() || !threshold_met(months.len(), rule.months) {
            return None;
        }
        missed.sort();
        missed.dedup();
        let n = months.len();
        let vi = format!(
            "Vắng sinh hoạt chi bộ không có lý do được chấp nhận trong {n} tháng của năm {year} (tháng {}; buổi sinh hoạt ngày {})",
            list(&months),
            missed.iter().map(|d| vi_date(*d)).collect::<Vec<_>>().join(", ")
        );
        let en = format!(
            "Absent from cell meetings without an accepted reason in {} of {year} ({} {}; {} of {})",
            count_en(n, "month", "months"),
            plural_en(n, "month", "months"),
            list(&months),
            plural_en(missed.len(), "meeting", "meetings"),
            missed.iter().map(|d| en_date(*d)).collect::<Vec<_>>().join(", ")
        );
        let evidence = Evidence::Attendance {
            year,
            months,
            meetings: missed,
            threshold: rule.months,
            counted_through: counted_through?,
        };
        Some(self.member_flag(RuleId::R2, m, Some(year), vi, en, evidence))
    }

    /// R4: on the educate-and-help list for `months` months since the start or the last progress.
    fn r4(&self, m: &MemberFacts) -> Option<Flag> {
        let rule = &self.rules.r4;
        let help = m.help.as_ref()?;
        if help.start > self.as_of {
            return None;
        }
        let last_progress = help
            .progress
            .iter()
            .map(|(d, _)| *d)
            .filter(|d| *d >= help.start && *d <= self.as_of)
            .max();
        let since = last_progress.unwrap_or(help.start);
        let due = since.checked_add_months(Months::new(rule.months))?;
        if self.as_of < due {
            return None;
        }
        let k = rule.months;
        let (vi, en) = match last_progress {
            None => (
                format!(
                    "Trong danh sách giáo dục, giúp đỡ từ {}, không có tiến bộ trong {k} tháng (đến {})",
                    vi_date(help.start),
                    vi_date(due)
                ),
                format!(
                    "On the educate-and-help list since {} with no progress in {} (to {})",
                    en_date(help.start),
                    count_en(k as usize, "month", "months"),
                    en_date(due)
                ),
            ),
            Some(p) => (
                format!(
                    "Trong danh sách giáo dục, giúp đỡ từ {}, tiến bộ ghi nhận gần nhất ngày {}, không có tiến bộ trong {k} tháng kể từ đó (đến {})",
                    vi_date(help.start),
                    vi_date(p),
                    vi_date(due)
                ),
                format!(
                    "On the educate-and-help list since {}, last progress noted on {}, no progress in the {} since (to {})",
                    en_date(help.start),
                    en_date(p),
                    count_en(k as usize, "month", "months"),
                    en_date(due)
                ),
            ),
        };
        let evidence = Evidence::HelpList {
            start: help.start,
            last_progress,
            due,
            months: k,
        };
        Some(self.member_flag(RuleId::R4, m, None, vi, en, evidence))
    }

    /// R6: the latest rated years, back from the most recent rating up to the evaluation year, all
    /// with a counted rating and without a gap.
    fn r6(&self, m: &MemberFacts) -> Option<Flag> {
        let rule = &self.rules.r6;
        let now = self.as_of.year();
        let (&latest, _) = m.ratings.range(..=now).next_back()?;
        let max_age = i32::try_from(rule.max_age_years).unwrap_or(i32::MAX);
        if latest < now.saturating_sub(max_age) {
            return None;
        }
        let mut run = Vec::new();
        let mut year = latest;
        while let Some(r) = m.ratings.get(&year) {
            if !rule.ratings.contains(r) {
                break;
            }
            run.push((year, *r));
            year = match year.checked_sub(1) {
                Some(y) => y,
                None => break,
            };
        }
        if run.is_empty() || !threshold_met(run.len(), rule.years) {
            return None;
        }
        run.reverse();
        let years: Vec<i32> = run.iter().map(|(y, _)| *y).collect();
        let mut labels: Vec<_> = run.iter().map(|(_, r)| *r).collect();
        labels.sort();
        labels.dedup();
        let vi_labels = labels
            .iter()
            .map(|r| r.label_vi())
            .collect::<Vec<_>>()
            .join(" / ");
        let en_labels = labels
            .iter()
            .map(|r| r.label_en())
            .collect::<Vec<_>>()
            .join(" / ");
        let n = years.len();
        let vi = format!("Xếp loại “{vi_labels}” {n} năm liền ({})", list(&years));
        let en = format!("Rated “{en_labels}” {n} years running ({})", list(&years));
        let evidence = Evidence::Ratings {
            years,
            threshold: rule.years,
        };
        Some(self.member_flag(RuleId::R6, m, Some(latest), vi, en, evidence))
    }

    /// R11: counted months of `year` without a regular meeting, counted quarters without a thematic one.
    /// Only for a year whose ledger we hold: no ledger is no evidence either way.
    fn r11(&self, unit: &str, year: i32) -> Option<Flag> {
        let rule = &self.rules.r11;
        if !self.index.has(unit, year) {
            return None;
        }
        let meetings = self
            .index
            .meetings
            .get(unit)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let held = |kind: MeetingKind, first: NaiveDate, last: NaiveDate| {
            meetings.iter().any(|mt| {
                mt.kind == kind && mt.date >= first && mt.date <= last && mt.date <= self.as_of
            })
        };
        let counted = self.years.months(year);
        let counted_through = counted
            .last()
            .and_then(|&m| month_bounds(year, m))
            .map(|(_, l)| l)?;
        let mut months: Vec<u32> = counted
            .iter()
            .copied()
            .filter(|&month| {
                month_bounds(year, month)
                    .is_some_and(|(first, last)| !held(MeetingKind::Regular, first, last))
            })
            .collect();
        let mut quarters: Vec<u32> = (1..=4)
            .filter(|q| counted.contains(&(q * 3)))
            .filter(|q| {
                let first = month_bounds(year, q * 3 - 2).map(|(f, _)| f);
                let last = month_bounds(year, q * 3).map(|(_, l)| l);
                match (first, last) {
                    (Some(f), Some(l)) => !held(MeetingKind::Thematic, f, l),
                    _ => false,
                }
            })
            .collect();
        if months.is_empty() || !threshold_met(months.len(), rule.months) {
            months.clear();
        }
        if quarters.is_empty() || !threshold_met(quarters.len(), rule.quarters) {
            quarters.clear();
        }
        if months.is_empty() && quarters.is_empty() {
            return None;
        }
        let mut vi_parts = Vec::new();
        let mut en_parts = Vec::new();
        if !months.is_empty() {
            vi_parts.push(format!(
                "không sinh hoạt thường kỳ trong tháng {} năm {year}",
                list(&months)
            ));
            en_parts.push(format!(
                "held no regular meeting in {} {} of {year}",
                plural_en(months.len(), "month", "months"),
                list(&months)
            ));
        }
        if !quarters.is_empty() {
            vi_parts.push(format!(
                "không sinh hoạt chuyên đề trong quý {} năm {year}",
                list(&quarters)
            ));
            en_parts.push(format!(
                "no thematic meeting in {} {} of {year}",
                plural_en(quarters.len(), "quarter", "quarters"),
                list(&quarters)
            ));
        }
        let vi = format!("Chi bộ {}", vi_parts.join("; "));
        let en = format!("The cell {}", en_parts.join("; "));
        Some(Flag {
            rule: RuleId::R11,
            subject: Subject::Cell(unit.to_string()),
            unit: unit.to_string(),
            year: Some(year),
            explanation_vi: vi,
            explanation_en: en,
            evidence: Evidence::Meetings {
                year,
                months_without_regular: months,
                quarters_without_thematic: quarters,
                counted_through,
            },
        })
    }

    /// R14: residence in another ward than the cell's, no transfer in progress.
    fn r14(&self, m: &MemberFacts, cell: Option<&CellFacts>) -> Option<Flag> {
        let rule = &self.rules.r14;
        let residence = m
            .residence_ward
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty())?;
        let cell_ward = cell?
            .admin_ward
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty())?;
        if residence == cell_ward || m.transfer_in_progress {
            return None;
        }
        if rule.skip_while_attached
            && m.temporary
                .as_ref()
                .is_some_and(|a| a.start <= self.as_of && self.as_of <= a.end)
        {
            return None;
        }
        let vi = format!(
            "Cư trú tại {residence}, khác phường/xã của chi bộ ({cell_ward}), chưa chuyển sinh hoạt đảng về nơi cư trú"
        );
        let en = format!(
            "Lives in {residence}, not in the cell's ward ({cell_ward}), and no transfer to the place of residence is in progress"
        );
        let evidence = Evidence::Residence {
            residence_ward: residence.to_string(),
            cell_ward: cell_ward.to_string(),
        };
        Some(self.member_flag(RuleId::R14, m, None, vi, en, evidence))
    }
}
