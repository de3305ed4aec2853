//! The facts the rules read: a projection of each member's dossier, each cell's place in the
//! administrative map, and the cell ledgers (meetings with attendance, dues by month). The caller builds
//! them from its documents; this crate never reads a store.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rollmesh_model::Status;
use serde::{Deserialize, Serialize};

// The ledger types are defined once, next to the Automerge document that holds them
// (`rollmesh_model::ledger`); the rules read them as facts.
pub use rollmesh_model::ledger::{Attendance, Dues, Ledger, Meeting, MeetingKind, Rating};

/// Why a member is temporarily attached to another cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentReason {
    /// Công tác: a posting or a job elsewhere.
    Work,
    /// Học tập: studies (a longer attachment is allowed).
    Study,
}

/// A temporary attachment (sinh hoạt tạm thời) to a host cell. While it lasts the member's dues and
/// attendance are recorded in the host's ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The host cell's unit path.
    pub host_cell: String,
    /// First day at the host.
    pub start: NaiveDate,
    /// Last day at the host (inclusive).
    pub end: NaiveDate,
    /// Why.
    pub reason: AttachmentReason,
}

impl Attachment {
    /// Whether the attachment covers at least one day of `[first, last]`.
    pub fn overlaps(&self, first: NaiveDate, last: NaiveDate) -> bool {
        self.start <= last && self.end >= first
    }

    /// Whether the attachment covers every day of `[first, last]`.
    pub fn covers(&self, first: NaiveDate, last: NaiveDate) -> bool {
        self.start <= first && self.end >= last
    }
}

/// A member's time on the educate-and-help list (danh sách giáo dục, giúp đỡ) after a screening vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpListEntry {
    /// The day the cell put the member on the list.
    pub start: NaiveDate,
    /// Progress the cell noted (date, note); each one restarts the count of R4.
    #[serde(default)]
    pub progress: Vec<(NaiveDate, String)>,
}

/// What the rules need to know about one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberFacts {
    /// The member's id (the text form of [`rollmesh_model::MemberId`]); ledgers use the same string.
    pub id: String,
    /// The member's own (home) cell, a unit path.
    pub cell: String,
    /// Current status.
    #[serde(with = "crate::keys::status")]
    pub status: Status,
    /// Admission date. Months that begin before it are not counted by R1 and R2; unknown means the
    /// member is taken to have been admitted long ago.
    #[serde(default)]
    pub admitted: Option<NaiveDate>,
    /// The administrative ward of the member's current residence (the code used by
    /// [`CellFacts::admin_ward`]).
    #[serde(default)]
    pub residence_ward: Option<String>,
    /// An official transfer (chuyển sinh hoạt chính thức) has been started and is not finished.
    #[serde(default)]
    pub transfer_in_progress: bool,
    /// The current or latest temporary attachment to a host cell.
    #[serde(default)]
    pub temporary: Option<Attachment>,
    /// Yearly ratings by year.
    #[serde(default)]
    pub ratings: BTreeMap<i32, Rating>,
    /// The member's place on the educate-and-help list, if any.
    #[serde(default)]
    pub help: Option<HelpListEntry>,
    /// The member's cases (admission, exemption, strike-off, discipline), as the dossier's steps
    /// tell them: R8 and R9 read them.
    #[serde(default)]
    pub cases: Vec<rollmesh_model::case::Case>,
}

impl MemberFacts {
    /// A member with only identity, cell and status known.
    pub fn new(id: &str, cell: &str, status: Status) -> MemberFacts {
        MemberFacts {
            id: id.to_string(),
            cell: cell.to_string(),
            status,
            admitted: None,
            residence_ward: None,
            transfer_in_progress: false,
            temporary: None,
            ratings: BTreeMap::new(),
            help: None,
            cases: Vec::new(),
        }
    }
}

/// What the rules need to know about one cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellFacts {
    /// The cell's unit path.
    pub unit: String,
    /// The administrative ward of the residential area the cell serves. Leave it empty for workplace
    /// cells (an office, a school, a company): their members legitimately live elsewhere, and R14 only
    /// compares residences with cells that have a ward.
    #[serde(default)]
    pub admin_ward: Option<String>,
}

/// Whether a reason excuses: one is recorded (not blank) and the cell accepted it.
pub(crate) fn excused(reason: &Option<String>, accepted: bool) -> bool {
    accepted && reason.as_deref().is_some_and(|r| !r.trim().is_empty())
}
