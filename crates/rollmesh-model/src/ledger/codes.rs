//! The short value codes and flat keys a ledger stores, and their parsing.

#[allow(unused_imports)]
use super::*;

pub(super) fn check_month(month: u32) -> Result<(), LedgerError> {
    if (1..=12).contains(&month) {
        Ok(())
    } else {
        Err(LedgerError::Month(month))
    }
}

/// The key of a member's rating in their map.
pub(super) const RATING_KEY: &str = "r";

pub(super) fn attendance_key(meeting: &MeetingKey) -> String {
    format!("a/{meeting}")
}

pub(super) fn parse_attendance_key(key: &str) -> Option<MeetingKey> {
    key.strip_prefix("a/")?.parse().ok()
}

pub(super) fn help_key(entry: HelpEntry) -> String {
    match entry {
        HelpEntry::Start(d) => format!("h/start/{}", d.format("%Y-%m-%d")),
        HelpEntry::End(d) => format!("h/end/{}", d.format("%Y-%m-%d")),
        HelpEntry::Note(d) => format!("h/note/{}", d.format("%Y-%m-%d")),
    }
}

pub(super) fn parse_help_key(key: &str) -> Option<HelpEntry> {
    let (what, text) = key.strip_prefix("h/")?.split_once('/')?;
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    if date.format("%Y-%m-%d").to_string() != text {
        return None;
    }
    match what {
        "start" => Some(HelpEntry::Start(date)),
        "end" => Some(HelpEntry::End(date)),
        "note" => Some(HelpEntry::Note(date)),
        _ => None,
    }
}

pub(super) fn dues_key(month: u32) -> String {
    format!("d/{month:02}")
}

pub(super) fn parse_dues_key(key: &str) -> Option<u32> {
    let month = key.strip_prefix("d/")?;
    if month.len() != 2 {
        return None;
    }
    let month: u32 = month.parse().ok()?;
    check_month(month).ok()?;
    Some(month)
}

/// The member id of a key, only in its canonical text form.
pub(super) fn canonical_member(s: &str) -> Option<String> {
    let id: MemberId = s.parse().ok()?;
    let text = id.to_string();
    (text == s).then_some(text)
}

/// Cleans a topic or reason: [`text::clean`] (NFC, collapsed white space), then refuses control and
/// bidirectional formatting and zero-width characters ([`text::is_hidden`]) and overlong text.
pub(super) fn clean_text(what: &'static str, raw: &str) -> Result<String, LedgerError> {
    let v = text::clean(raw);
    let refuse = |expected| LedgerError::Text {
        what,
        value: raw.to_string(),
        expected,
    };
    if v.chars().any(text::is_hidden) {
        return Err(refuse(
            "free of control and bidirectional formatting characters",
        ));
    }
    if v.chars().count() > MAX_TEXT_CHARS {
        return Err(refuse("at most 500 characters"));
    }
    Ok(v)
}

/// `code` alone, or `code:reason` for a reason that is not blank once cleaned.
pub(super) fn with_reason(code: &str, reason: &Option<String>) -> Result<String, LedgerError> {
    let reason = match reason {
        Some(r) => clean_text("reason", r)?,
        None => String::new(),
    };
    Ok(if reason.is_empty() {
        code.to_string()
    } else {
        format!("{code}:{reason}")
    })
}

pub(super) fn split_reason(s: &str) -> (&str, Option<String>) {
    match s.split_once(':') {
        Some((code, reason)) if !reason.is_empty() => (code, Some(reason.to_string())),
        Some((code, _)) => (code, None),
        None => (s, None),
    }
}

pub(super) fn encode_attendance(a: &Attendance) -> Result<String, LedgerError> {
    match a {
        Attendance::Present => Ok("p".to_string()),
        Attendance::Absent { reason, accepted } => {
            with_reason(if *accepted { "a+" } else { "a-" }, reason)
        }
    }
}

pub(super) fn decode_attendance(s: &str) -> Option<Attendance> {
    if s == "p" {
        return Some(Attendance::Present);
    }
    let (code, reason) = split_reason(s);
    let accepted = match code {
        "a+" => true,
        "a-" => false,
        _ => return None,
    };
    Some(Attendance::Absent { reason, accepted })
}

pub(super) fn encode_dues(d: &Dues) -> Result<String, LedgerError> {
    match d {
        Dues::Paid { amount, date } => {
            if !YEARS.contains(&date.year()) {
                return Err(LedgerError::PaymentDate(*date));
            }
            Ok(format!("p:{amount}:{}", date.format("%Y-%m-%d")))
        }
        Dues::Unpaid { reason, accepted } => {
            with_reason(if *accepted { "u+" } else { "u-" }, reason)
        }
    }
}

pub(super) fn decode_dues(s: &str) -> Option<Dues> {
    if let Some(rest) = s.strip_prefix("p:") {
        let (amount, date) = rest.split_once(':')?;
        if amount.is_empty() || !amount.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return Some(Dues::Paid {
            amount: amount.parse().ok()?,
            date: NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?,
        });
    }
    let (code, reason) = split_reason(s);
    let accepted = match code {
        "u+" => true,
        "u-" => false,
        _ => return None,
    };
    Some(Dues::Unpaid { reason, accepted })
}
