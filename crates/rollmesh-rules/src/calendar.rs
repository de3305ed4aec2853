//! The working-day calendar: Saturdays, Sundays and a list of public holidays are not working days.
//! Deadlines in the workflows are counted in working days (docs/BRIEF.md §4), and the grace period after
//! a month or quarter ends (see [`crate::Counting`]) is too.
//!
//! Vietnam's fixed-date holidays follow from the Labour Code (Bộ luật Lao động 2019, art. 112); the
//! lunar ones (Tết, the Hùng Kings' commemoration) and the day added to National Day move every year, so
//! they come from [`VIETNAM_TABLE`], a table shipped for 2024–2027 that the city extends or corrects.

use std::collections::BTreeSet;
use std::ops::{Bound, RangeInclusive};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// Why a calendar could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    /// The lunar holidays of this year are not in [`VIETNAM_TABLE`]: they cannot be computed simply, so
    /// guessing them would silently shift every deadline that crosses Tết.
    #[error(
        "no Tết / Hùng Kings dates are shipped for {year}; add that year's holidays to the calendar by hand"
    )]
    NoLunarTable {
        /// The year asked for.
        year: i32,
    },
    /// A date in the table or a requested year does not exist in the calendar.
    #[error("{year}-{month:02}-{day:02} is not a date")]
    BadDate {
        /// Year.
        year: i32,
        /// Month.
        month: u32,
        /// Day.
        day: u32,
    },
}

/// One year's movable holidays in Vietnam, as the government's yearly notice sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VietnamYear {
    /// The year.
    pub year: i32,
    /// The weekdays off for Tết Nguyên Đán (month, day): the five statutory days placed by the yearly
    /// notice, already moved off the weekend, so no compensatory day is added for them.
    pub tet: [(u32, u32); 5],
    /// Giỗ Tổ Hùng Vương, 10th day of the 3rd lunar month (month, day); a compensatory day follows if it
    /// falls on a weekend.
    pub hung_kings: (u32, u32),
    /// The day added to National Day (2/9), the day before or after as the notice decides (month, day).
    pub national_day_extra: (u32, u32),
    /// The notice for this year was not known when the table was written: the Tết placement and the
    /// National Day extra day are the likeliest ones, to be confirmed.
    pub provisional: bool,
}

/// Vietnam's movable holidays for 2024–2027. Lunar dates checked against a lunar-calendar converter
/// (Tết: 10/2/2024, 29/1/2025, 17/2/2026, 6/2/2027; Hùng Kings: 18/4/2024, 7/4/2025, 26/4/2026,
/// 16/4/2027). Working-day swaps (a weekday off exchanged for a Saturday worked) are not in the table:
/// a Saturday is never a working day here.
pub const VIETNAM_TABLE: &[VietnamYear] = &[
    VietnamYear {
        year: 2024,
        // Thursday 8/2 to Wednesday 14/2 (Tết on Saturday 10/2).
        tet: [(2, 8), (2, 9), (2, 12), (2, 13), (2, 14)],
        hung_kings: (4, 18),
        national_day_extra: (9, 3),
        provisional: false,
    },
    VietnamYear {
        year: 2025,
        // Monday 27/1 to Friday 31/1 (Tết on Wednesday 29/1).
        tet: [(1, 27), (1, 28), (1, 29), (1, 30), (1, 31)],
        hung_kings: (4, 7),
        national_day_extra: (9, 1),
        provisional: false,
    },
    VietnamYear {
        year: 2026,
        // Monday 16/2 to Friday 20/2 (Tết on Tuesday 17/2).
        tet: [(2, 16), (2, 17), (2, 18), (2, 19), (2, 20)],
        // Sunday 26/4: Monday 27/4 is the compensatory day.
        hung_kings: (4, 26),
        national_day_extra: (9, 1),
        provisional: true,
    },
    VietnamYear {
        year: 2027,
        // Tết on Saturday 6/2, as in 2024: Thursday 4/2 to Wednesday 10/2.
        tet: [(2, 4), (2, 5), (2, 8), (2, 9), (2, 10)],
        hung_kings: (4, 16),
        national_day_extra: (9, 3),
        provisional: true,
    },
];

/// Non-working days. Saturday and Sunday are never working days; `holidays` lists the others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Public holidays (a holiday falling on a weekend changes nothing by itself: list the compensatory
    /// weekday too).
    pub holidays: BTreeSet<NaiveDate>,
}

fn ymd(year: i32, (month, day): (u32, u32)) -> Result<NaiveDate, CalendarError> {
    NaiveDate::from_ymd_opt(year, month, day).ok_or(CalendarError::BadDate { year, month, day })
}

/// Whether a date falls on Saturday or Sunday.
pub fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Weekdays (Monday–Friday) from an arbitrary Monday epoch up to and including `date`, so that the
/// weekdays in a range are a difference of two calls. Day 1 of the common era (0001-01-01) is a Monday.
fn weekdays_through(date: NaiveDate) -> i64 {
    let n = i64::from(date.num_days_from_ce());
    let weeks = n.div_euclid(7);
    let rest = n.rem_euclid(7);
    weeks * 5 + rest.min(5)
}

impl Calendar {
    /// A calendar with these holidays.
    pub fn new(holidays: impl IntoIterator<Item = NaiveDate>) -> Calendar {
        Calendar {
            holidays: holidays.into_iter().collect(),
        }
    }

    /// Vietnam's public holidays for these years: 1/1, 30/4, 1/5, 2/9 and the extra National Day day,
    /// the Hùng Kings' day, each followed by a compensatory weekday when it falls on a weekend (Labour
    /// Code art. 112 §3), and the five Tết weekdays from [`VIETNAM_TABLE`]. Fails for a year the table
    /// does not cover.
    pub fn vietnam(years: RangeInclusive<i32>) -> Result<Calendar, CalendarError> {
        let mut cal = Calendar::default();
        for year in years {
            let row = VIETNAM_TABLE
                .iter()
                .find(|r| r.year == year)
                .ok_or(CalendarError::NoLunarTable { year })?;
            for md in row.tet {
                cal.holidays.insert(ymd(year, md)?);
            }
            let mut statutory = vec![
                ymd(year, (1, 1))?,
                ymd(year, row.hung_kings)?,
                ymd(year, (4, 30))?,
                ymd(year, (5, 1))?,
                ymd(year, (9, 2))?,
                ymd(year, row.national_day_extra)?,
            ];
            statutory.sort();
            cal.holidays.extend(statutory.iter().copied());
            // In date order, so that two weekend holidays in a row (1/5 on Saturday after 30/4 on
            // Friday, or 2/9 on Sunday) push their compensatory days one after the other.
            for day in statutory {
                if is_weekend(day) {
                    let mut next = day;
                    loop {
                        next = match next.succ_opt() {
                            Some(d) => d,
                            None => break,
                        };
                        if !is_weekend(next) && !cal.holidays.contains(&next) {
                            cal.holidays.insert(next);
                            break;
                        }
                    }
                }
            }
        }
        Ok(cal)
    }

    /// Adds a holiday (a swapped day off, a one-off decision).
    pub fn add_holiday(&mut self, date: NaiveDate) {
        self.holidays.insert(date);
    }

    /// Removes a holiday; says whether it was there.
    pub fn remove_holiday(&mut self, date: NaiveDate) -> bool {
        self.holidays.remove(&date)
    }

    /// Monday to Friday and not a holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !is_weekend(date) && !self.holidays.contains(&date)
    }

    /// The `n`th working day after `date`: day 1 is the first working day strictly after `date`, so a
    /// deadline of "60 working days after the resolution" is `add_working_days(resolution, 60)`. With
    /// `n = 0` the date itself comes back, working day or not. `None` only past the end of chrono's
    /// calendar.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> Option<NaiveDate> {
        let mut day = date;
        let mut left = n;
        while left > 0 {
            day = day.succ_opt()?;
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        Some(day)
    }

    /// Working days in `(a, b]` — after `a`, up to and including `b` — so that
    /// `working_days_between(a, add_working_days(a, n)) == n`. Negative when `b` is before `a`
    /// (the same count, in `(b, a]`).
    pub fn working_days_between(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        if b < a {
            return -self.working_days_between(b, a);
        }
        let weekdays = weekdays_through(b) - weekdays_through(a);
        let holidays = self
            .holidays
            .range((Bound::Excluded(a), Bound::Included(b)))
            .filter(|d| !is_weekend(**d))
            .count();
        // A BTreeSet range is at most the whole set, far below i64::MAX.
        weekdays - i64::try_from(holidays).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("test date")
    }

    #[test]
    fn the_epoch_is_a_monday() {
        assert_eq!(d(1, 1, 1).weekday(), Weekday::Mon);
        assert_eq!(d(1, 1, 1).num_days_from_ce(), 1);
    }

    #[test]
    fn table_dates_exist_and_tet_days_are_weekdays() {
        for row in VIETNAM_TABLE {
            for md in row.tet {
                let day = ymd(row.year, md).expect("table date");
                assert!(!is_weekend(day), "{day} is listed for Tết but is a weekend");
            }
            ymd(row.year, row.hung_kings).expect("table date");
            let extra = ymd(row.year, row.national_day_extra).expect("table date");
            assert_eq!(
                (extra - ymd(row.year, (9, 2)).expect("2/9"))
                    .num_days()
                    .abs(),
                1,
                "{extra} is not next to 2/9"
            );
        }
    }
}
