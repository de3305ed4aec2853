//! What an edit may put into a ledger: the set of edits made as one change ([`LedgerEdit`]), the
//! educate-and-help list's entries, and the text checks an edit applies — and a received ledger must pass.

#[allow(unused_imports)]
use super::*;

/// Cleans a topic, reason or note as an edit would ([`text::clean`], at most [`MAX_TEXT_CHARS`]
/// characters, no control or bidirectional formatting characters); `what` names it in the error.
pub fn validate_text(what: &'static str, raw: &str) -> Result<String, LedgerError> {
    clean_text(what, raw)
}

/// Checks that every text of a ledger read from a document — topics, reasons, notes — is what an edit
/// would have stored: a node writing raw bytes past [`LedgerDoc::edit`] cannot plant control
/// characters or overlong text in another node's books.
pub fn check_texts(l: &Ledger) -> Result<(), LedgerError> {
    let clean = |what: &'static str, t: &str| -> Result<(), LedgerError> {
        let v = clean_text(what, t)?;
        if v == t {
            Ok(())
        } else {
            Err(LedgerError::Text {
                what,
                value: t.to_string(),
                expected: "stored clean (NFC, single spaces)",
            })
        }
    };
    for m in &l.meetings {
        clean("topic", &m.topic)?;
        for a in m.attendance.values() {
            if let Attendance::Absent {
                reason: Some(r), ..
            } = a
            {
                clean("reason", r)?;
            }
        }
    }
    for months in l.dues.values() {
        for d in months.values() {
            if let Dues::Unpaid {
                reason: Some(r), ..
            } = d
            {
                clean("reason", r)?;
            }
        }
    }
    for h in l.help.values() {
        for n in h.notes.values() {
            clean("note", n)?;
        }
    }
    Ok(())
}

/// A set of ledger edits to apply as one change (one meeting with its attendance, one month's dues
/// sheet…). Values are validated and cleaned by [`LedgerDoc::edit`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerEdit {
    /// Meetings to record (or whose topic to change), with their topics.
    pub meetings: BTreeMap<MeetingKey, String>,
    /// Attendance to set. The meeting must be recorded already or in the same edit.
    pub attendance: BTreeMap<(MeetingKey, MemberId), Attendance>,
    /// Dues to set, by member and month (1–12).
    pub dues: BTreeMap<(MemberId, u32), Dues>,
    /// Dues entries to remove.
    pub cleared_dues: BTreeSet<(MemberId, u32)>,
    /// The year's ratings to set.
    pub ratings: BTreeMap<MemberId, Rating>,
    /// Educate-and-help list entries to set: a start, an end, or a progress note on a day of the year.
    pub help: BTreeMap<(MemberId, HelpEntry), String>,
    /// For an attachment book: the attachment to record (by the home side), replacing the one recorded.
    pub grant: Option<Grant>,
}

/// One entry a ledger records about a member on the educate-and-help list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HelpEntry {
    /// Put on the list that day.
    Start(NaiveDate),
    /// Taken off the list that day.
    End(NaiveDate),
    /// A progress note of that day.
    Note(NaiveDate),
}

impl HelpEntry {
    /// The day the entry is about.
    pub fn date(self) -> NaiveDate {
        match self {
            HelpEntry::Start(d) | HelpEntry::End(d) | HelpEntry::Note(d) => d,
        }
    }
}

impl LedgerEdit {
    /// An empty edit.
    pub fn new() -> LedgerEdit {
        LedgerEdit::default()
    }

    /// True when the edit holds nothing.
    pub fn is_empty(&self) -> bool {
        self.meetings.is_empty()
            && self.attendance.is_empty()
            && self.dues.is_empty()
            && self.cleared_dues.is_empty()
            && self.ratings.is_empty()
            && self.help.is_empty()
            && self.grant.is_none()
    }

    /// Records the temporary attachment (in an attachment book, by the home side).
    pub fn set_grant(&mut self, grant: Grant) -> &mut Self {
        self.grant = Some(grant);
        self
    }

    /// Sets one member's rating for the ledger's year.
    pub fn set_rating(&mut self, member: MemberId, rating: Rating) -> &mut Self {
        self.ratings.insert(member, rating);
        self
    }

    /// Puts a member on the educate-and-help list on `day`.
    pub fn help_start(&mut self, member: MemberId, day: NaiveDate) -> &mut Self {
        self.help
            .insert((member, HelpEntry::Start(day)), String::new());
        self
    }

    /// Takes a member off the educate-and-help list on `day`.
    pub fn help_end(&mut self, member: MemberId, day: NaiveDate) -> &mut Self {
        self.help
            .insert((member, HelpEntry::End(day)), String::new());
        self
    }

    /// Notes a member's progress on `day`.
    pub fn help_note(&mut self, member: MemberId, day: NaiveDate, note: &str) -> &mut Self {
        self.help
            .insert((member, HelpEntry::Note(day)), note.to_string());
        self
    }

    /// Records a meeting with its topic.
    pub fn record_meeting(&mut self, key: MeetingKey, topic: &str) -> &mut Self {
        self.meetings.insert(key, topic.to_string());
        self
    }

    /// Sets one member's attendance at one meeting.
    pub fn set_attendance(
        &mut self,
        meeting: MeetingKey,
        member: MemberId,
        attendance: Attendance,
    ) -> &mut Self {
        self.attendance.insert((meeting, member), attendance);
        self
    }

    /// Sets one member's dues for one month.
    pub fn set_dues(&mut self, member: MemberId, month: u32, dues: Dues) -> &mut Self {
        self.dues.insert((member, month), dues);
        self
    }

    /// Removes one member's dues entry for one month.
    pub fn clear_dues(&mut self, member: MemberId, month: u32) -> &mut Self {
        self.cleared_dues.insert((member, month));
        self
    }
}
