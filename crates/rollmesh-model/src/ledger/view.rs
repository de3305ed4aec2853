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

/// The yearly rating of a member (xếp loại chất lượng đảng viên), set by the cell in that year's ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// Hoàn thành xuất sắc nhiệm vụ.
    Excellent,
    /// Hoàn thành tốt nhiệm vụ.
    Good,
    /// Hoàn thành nhiệm vụ.
    Completed,
    /// Không hoàn thành nhiệm vụ.
    NotCompleted,
}

impl Rating {
    /// Every level, best first.
    pub const ALL: &'static [Rating] = &[
        Rating::Excellent,
        Rating::Good,
        Rating::Completed,
        Rating::NotCompleted,
    ];

    /// The stored key (`excellent`, `good`, `completed`, `not_completed`).
    pub fn key(self) -> &'static str {
        match self {
            Rating::Excellent => "excellent",
            Rating::Good => "good",
            Rating::Completed => "completed",
            Rating::NotCompleted => "not_completed",
        }
    }

    /// The Vietnamese wording of the rating.
    pub fn label_vi(self) -> &'static str {
        match self {
            Rating::Excellent => "hoàn thành xuất sắc nhiệm vụ",
            Rating::Good => "hoàn thành tốt nhiệm vụ",
            Rating::Completed => "hoàn thành nhiệm vụ",
            Rating::NotCompleted => "không hoàn thành nhiệm vụ",
        }
    }

    /// The English wording of the rating.
    pub fn label_en(self) -> &'static str {
        match self {
            Rating::Excellent => "excellent",
            Rating::Good => "good",
            Rating::Completed => "completed",
            Rating::NotCompleted => "not completed",
        }
    }

    /// A rating from its key or its Vietnamese or English wording (any case, with or without "nhiệm
    /// vụ"), as a clerk types it in a sheet.
    pub fn parse(s: &str) -> Option<Rating> {
        let s = crate::text::fold(s);
        let s = s.trim();
        Rating::ALL.iter().copied().find(|r| {
            let vi = crate::text::fold(r.label_vi());
            s == r.key()
                || s == crate::text::fold(r.label_en())
                || s == vi
                || s == vi.trim_end_matches(" nhiem vu")
                || vi
                    .trim_end_matches(" nhiem vu")
                    .strip_prefix("hoan thanh ")
                    .is_some_and(|short| s == short)
        })
    }
}

/// A member's time on the educate-and-help list (danh sách giáo dục, giúp đỡ) as the ledgers record it:
/// the day the cell put the member on it, progress notes by date, and the day it took them off. Each
/// entry lives in the ledger of the year it happened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpRecord {
    /// The day the member was put on the list, if this year's ledger records it.
    #[serde(default)]
    pub start: Option<NaiveDate>,
    /// The day the member was taken off it, if this year's ledger records it.
    #[serde(default)]
    pub end: Option<NaiveDate>,
    /// Progress notes by day.
    #[serde(default)]
    pub notes: BTreeMap<NaiveDate, String>,
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
    /// The year's ratings by member id.
    #[serde(default)]
    pub ratings: BTreeMap<String, Rating>,
    /// The year's educate-and-help list entries by member id.
    #[serde(default)]
    pub help: BTreeMap<String, HelpRecord>,
}

impl Ledger {
    /// Every member id the ledger's entries name (attendance, dues, ratings, help list), with repeats.
    pub fn member_ids(&self) -> impl Iterator<Item = &String> {
        self.meetings
            .iter()
            .flat_map(|m| m.attendance.keys())
            .chain(self.dues.keys())
            .chain(self.ratings.keys())
            .chain(self.help.keys())
    }

    /// An empty ledger.
    pub fn new(cell: &str, year: i32) -> Ledger {
        Ledger {
            cell: cell.to_string(),
            year,
            meetings: Vec::new(),
            dues: BTreeMap::new(),
            ratings: BTreeMap::new(),
            help: BTreeMap::new(),
        }
    }
}
