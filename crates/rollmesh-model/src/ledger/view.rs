//! The plain view of a ledger: what the rest of the system reads (the screening rules take it as facts).

#[allow(unused_imports)]
use super::*;

/// A regular (monthly) or thematic (quarterly) cell meeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingKind {
    /// Sinh hoạt thường kỳ.
    Regular,
    /// Sinh hoạt chuyên đề.
    Thematic,
}

impl MeetingKind {
    /// Both kinds.
    pub const ALL: &'static [MeetingKind] = &[MeetingKind::Regular, MeetingKind::Thematic];

    /// The stored key (`regular`, `thematic`), also used in [`MeetingKey`]s.
    pub fn key(self) -> &'static str {
        match self {
            MeetingKind::Regular => "regular",
            MeetingKind::Thematic => "thematic",
        }
    }

    /// The kind with that stored key.
    pub fn from_key(key: &str) -> Option<MeetingKind> {
        MeetingKind::ALL.iter().copied().find(|k| k.key() == key)
    }
}

/// A member's attendance at one meeting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    /// Present.
    Present,
    /// Absent. The absence is excused only when a reason is recorded and the cell accepted it; no
    /// reason, or a reason the cell did not accept, is an absence without reason.
    Absent {
        /// The reason given, if any.
        reason: Option<String>,
        /// Whether the cell accepted it.
        accepted: bool,
    },
}

/// One meeting held by a cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    /// The day it was held.
    pub date: NaiveDate,
    /// Regular or thematic. A combined session is recorded as two meetings.
    pub kind: MeetingKind,
    /// Its topic.
    #[serde(default)]
    pub topic: String,
    /// Attendance by member id. Members not listed were not expected (e.g. attached elsewhere).
    #[serde(default)]
    pub attendance: BTreeMap<String, Attendance>,
}

/// A member's dues for one month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dues {
    /// Paid, whatever the amount, on `date`. A payment dated after the evaluation date did not exist yet.
    Paid {
        /// Amount in đồng.
        amount: u64,
        /// Day of payment.
        date: NaiveDate,
    },
    /// Not paid. Excused only when a reason is recorded and the cell accepted it.
    Unpaid {
        /// The reason given, if any.
        reason: Option<String>,
        /// Whether the cell accepted it.
        accepted: bool,
    },
}

/// One cell's ledger for one calendar year. A member temporarily attached elsewhere appears in the host's
/// ledger; the rule engine merges every ledger's entries for a member id, whichever cell holds them.
/// Member ids are the text form of [`MemberId`] (the rule facts use the same strings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The cell keeping it.
    pub cell: String,
    /// The calendar year.
    pub year: i32,
    /// Meetings held.
    #[serde(default)]
    pub meetings: Vec<Meeting>,
    /// Dues by member id, then by month (1–12).
    #[serde(default)]
    pub dues: BTreeMap<String, BTreeMap<u32, Dues>>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new(cell: &str, year: i32) -> Ledger {
        Ledger {
            cell: cell.to_string(),
            year,
            meetings: Vec::new(),
            dues: BTreeMap::new(),
        }
    }
}
