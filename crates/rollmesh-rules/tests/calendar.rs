//! Working-day arithmetic over Vietnam's calendar: weekends, the fixed holidays, compensatory days,
//! Tết, and the inverse relation between adding and counting working days.

mod support;

use chrono::{Datelike, NaiveDate, Weekday};
use proptest::prelude::*;
use rollmesh_rules::{is_weekend, Calendar, CalendarError};
use support::{d, vn};

#[test]
fn only_shipped_years_build() {
    assert!(Calendar::vietnam(2024..=2027).is_ok());
    assert_eq!(
        Calendar::vietnam(2023..=2024),
        Err(CalendarError::NoLunarTable { year: 2023 })
    );
    assert_eq!(
        Calendar::vietnam(2027..=2028),
        Err(CalendarError::NoLunarTable { year: 2028 })
    );
}

#[test]
fn each_year_has_the_labour_codes_eleven_days_off_on_weekdays() {
    // 1/1, five days of Tết, Hùng Kings, 30/4, 1/5, 2/9 and one more: 11 days (Labour Code art. 112),
    // with those falling on a weekend moved to the next weekday.
    let cal = vn();
    for year in 2024..=2027 {
        let weekdays = cal
            .holidays
            .iter()
            .filter(|h| h.year() == year && !is_weekend(**h))
            .count();
        assert_eq!(weekdays, 11, "{year}");
    }
}

#[test]
fn known_days() {
    let cal = vn();
    // Fixed dates.
    for day in [
        d(2024, 1, 1),
        d(2025, 4, 30),
        d(2025, 5, 1),
        d(2026, 9, 2),
        d(2027, 1, 1),
    ] {
        assert!(!cal.is_working_day(day), "{day}");
    }
    // National Day's extra day, before or after.
    assert!(!cal.is_working_day(d(2024, 9, 3)));
    assert!(!cal.is_working_day(d(2025, 9, 1)));
    // Compensatory days: Hùng Kings on Sunday 26/4/2026, 1/5/2027 on a Saturday.
    assert_eq!(d(2026, 4, 26).weekday(), Weekday::Sun);
    assert!(!cal.is_working_day(d(2026, 4, 27)));
    assert_eq!(d(2027, 5, 1).weekday(), Weekday::Sat);
    assert!(!cal.is_working_day(d(2027, 5, 3)));
    // Tết.
    for day in [
        d(2024, 2, 8),
        d(2025, 1, 29),
        d(2026, 2, 17),
        d(2026, 2, 20),
    ] {
        assert!(!cal.is_working_day(day), "{day}");
    }
    // Ordinary days and weekends.
    assert!(cal.is_working_day(d(2026, 2, 23)));
    assert!(cal.is_working_day(d(2024, 4, 29)), "swaps are not shipped");
    assert!(!cal.is_working_day(d(2026, 3, 7)), "Saturday");
    assert!(!cal.is_working_day(d(2026, 3, 8)), "Sunday");
}

#[test]
fn adding_working_days_crosses_weekends_and_holidays() {
    let cal = vn();
    // Friday + 1 = Monday.
    assert_eq!(cal.add_working_days(d(2026, 3, 6), 1), Some(d(2026, 3, 9)));
    // 30/4 (Wednesday) and 1/5 (Thursday) 2025.
    assert_eq!(cal.add_working_days(d(2025, 4, 29), 1), Some(d(2025, 5, 2)));
    assert_eq!(cal.add_working_days(d(2025, 4, 29), 2), Some(d(2025, 5, 5)));
    // 30/4 (Tuesday) and 1/5 (Wednesday) 2024, after a weekend.
    assert_eq!(
        cal.add_working_days(d(2024, 4, 26), 1),
        Some(d(2024, 4, 29))
    );
    assert_eq!(cal.add_working_days(d(2024, 4, 26), 2), Some(d(2024, 5, 2)));
    // Tết 2026: Friday 13/2 + 1 is Monday 23/2, over nine days off.
    assert_eq!(
        cal.add_working_days(d(2026, 2, 13), 1),
        Some(d(2026, 2, 23))
    );
    // Tết 2025 and a 10-day deadline across it.
    assert_eq!(cal.add_working_days(d(2025, 1, 24), 1), Some(d(2025, 2, 3)));
    assert_eq!(
        cal.add_working_days(d(2025, 1, 20), 10),
        Some(d(2025, 2, 10))
    );
    // New Year: 31/12/2025 (Wednesday) + 1 skips Thursday 1/1/2026.
    assert_eq!(
        cal.add_working_days(d(2025, 12, 31), 1),
        Some(d(2026, 1, 2))
    );
    // 60 working days from a resolution on 2/3/2026, over Hùng Kings, 30/4 and 1/5.
    let due = cal.add_working_days(d(2026, 3, 2), 60).expect("in range");
    assert_eq!(due, d(2026, 5, 28));
    assert_eq!(cal.working_days_between(d(2026, 3, 2), due), 60);
    // Zero days: the date itself, even on a weekend.
    assert_eq!(cal.add_working_days(d(2026, 3, 7), 0), Some(d(2026, 3, 7)));
    // From a holiday, the first working day after it.
    assert_eq!(
        cal.add_working_days(d(2026, 2, 17), 1),
        Some(d(2026, 2, 23))
    );
}

#[test]
fn counting_working_days() {
    let cal = vn();
    assert_eq!(cal.working_days_between(d(2026, 3, 2), d(2026, 3, 2)), 0);
    // Monday to next Monday: 5.
    assert_eq!(cal.working_days_between(d(2026, 3, 2), d(2026, 3, 9)), 5);
    assert_eq!(cal.working_days_between(d(2026, 3, 9), d(2026, 3, 2)), -5);
    // The Tết week of 2026 has none.
    assert_eq!(cal.working_days_between(d(2026, 2, 13), d(2026, 2, 22)), 0);
    // A whole year: 261 weekdays in 2026, less 11 holidays.
    assert_eq!(
        cal.working_days_between(d(2025, 12, 31), d(2026, 12, 31)),
        250
    );
    // Holidays on a weekend do not count twice.
    let mut extra = cal.clone();
    extra.add_holiday(d(2026, 3, 7));
    assert_eq!(extra.working_days_between(d(2026, 3, 2), d(2026, 3, 9)), 5);
    assert!(extra.remove_holiday(d(2026, 3, 7)));
}

#[test]
fn the_calendar_round_trips_through_json() {
    let cal = vn();
    let text = serde_json::to_string(&cal).expect("serialise");
    assert!(text.contains("\"2026-02-17\""), "{text}");
    let back: Calendar = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, cal);
}

fn date_in(range: std::ops::RangeInclusive<i64>) -> impl Strategy<Value = NaiveDate> {
    range.prop_map(|n| d(2024, 1, 1) + chrono::Duration::days(n))
}

proptest! {
    #[test]
    fn adding_then_counting_gives_back_n(a in date_in(0..=1400), n in 0u32..300) {
        let cal = vn();
        let b = cal.add_working_days(a, n).expect("in range");
        prop_assert_eq!(cal.working_days_between(a, b), i64::from(n));
        if n > 0 {
            prop_assert!(cal.is_working_day(b));
            // And it is the first such day: one day earlier is one working day short.
            let before = b.pred_opt().expect("in range");
            prop_assert_eq!(cal.working_days_between(a, before), i64::from(n) - 1);
        }
    }

    #[test]
    fn counting_agrees_with_walking_day_by_day(a in date_in(0..=1400), len in 0i64..400) {
        let cal = vn();
        let b = a + chrono::Duration::days(len);
        let mut walked = 0;
        let mut day = a;
        while day < b {
            day = day.succ_opt().expect("in range");
            if cal.is_working_day(day) {
                walked += 1;
            }
        }
        prop_assert_eq!(cal.working_days_between(a, b), walked);
        prop_assert_eq!(cal.working_days_between(b, a), -walked);
    }
}
