//! The pure domain model of rollmesh: unit paths and the organisation tree, member identity, fields and
//! statuses, the member dossier and the cell ledger as Automerge documents. No I/O, no clocks, no
//! randomness: the caller passes the time and random bits in (`MemberId::new`), and reads tree files
//! itself.

pub mod case;
mod counters;
pub mod dossier;
pub mod ledger;
pub mod member;
pub mod orgdoc;
pub mod text;
pub mod tree;
pub mod unit;

pub use dossier::{
    creation_write, dossier_write, Dossier, DossierEdit, DossierError, DossierWrite, DOSSIER_KIND,
};
pub use ledger::{
    Attendance, Dues, HelpEntry, HelpRecord, Ledger, LedgerConflicts, LedgerDoc, LedgerEdit,
    LedgerError, LedgerId, Meeting, MeetingKey, MeetingKind, Rating, LEDGER_KIND,
};
pub use member::{
    Event, EventKind, Field, FieldError, MemberId, MemberRecord, Sector, Sex, Status,
};
pub use orgdoc::{OrgDoc, OrgDocError, OrgDocKind};
pub use tree::{Level, OrgTree, TreeError, UnitInfo, UnitKind};
pub use unit::{UnitPath, UnitPathError};
