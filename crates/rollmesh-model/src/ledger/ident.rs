//! Naming a ledger and its meetings: the deterministic ledger id and meeting keys.

#[allow(unused_imports)]
use super::*;

/// The value of the root `kind` key of every cell ledger.
pub const LEDGER_KIND: &str = "rollmesh/ledger/v2";

/// The domain separator hashed in front of a ledger's cell and year.
pub(super) const ID_DOMAIN: &[u8] = b"rollmesh/ledger/v1\0";

/// The value of the root `kind` key of every attachment book.
pub const ATTACHMENT_KIND: &str = "rollmesh/attachment/v1";

/// The domain separator hashed in front of an attachment book's name.
pub(super) const ATTACHMENT_DOMAIN: &[u8] = b"rollmesh/attachment/v1\0";

/// Which book a ledger document is: a cell's own ledger for a year, or the **attachment book** a host
/// cell keeps for one member temporarily attached to it (sinh hoạt tạm thời) from a home cell — the
/// member's meetings and dues at the host that year, within the period the home side granted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LedgerName {
    /// The cell keeping the book (the host, for an attachment book).
    pub cell: UnitPath,
    /// The calendar year.
    pub year: i32,
    /// For an attachment book: the member and their home cell.
    pub attached: Option<Attached>,
}

/// The member an attachment book is about, and the cell they belong to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Attached {
    /// The member.
    pub member: MemberId,
    /// Their home cell, which grants the attachment.
    pub home: UnitPath,
}

impl LedgerName {
    /// A cell's own ledger.
    pub fn cell(cell: UnitPath, year: i32) -> LedgerName {
        LedgerName {
            cell,
            year,
            attached: None,
        }
    }

    /// The book `host` keeps for `member` of `home`.
    pub fn attachment(host: UnitPath, year: i32, member: MemberId, home: UnitPath) -> LedgerName {
        LedgerName {
            cell: host,
            year,
            attached: Some(Attached { member, home }),
        }
    }

    /// The document id: [`LedgerId::of`] for a cell's ledger; for an attachment book the first 16
    /// bytes of SHA-256 over `b"rollmesh/attachment/v1\0" ‖ host ‖ 0x00 ‖ year (i32, big-endian) ‖
    /// member id (16 bytes) ‖ home`.
    pub fn id(&self) -> LedgerId {
        let Some(a) = &self.attached else {
            return LedgerId::of(&self.cell, self.year);
        };
        let mut h = Sha256::new();
        h.update(ATTACHMENT_DOMAIN);
        h.update(self.cell.as_str().as_bytes());
        h.update([0u8]);
        h.update(self.year.to_be_bytes());
        h.update(a.member.as_bytes());
        h.update(a.home.as_str().as_bytes());
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        LedgerId(id)
    }

    /// What every edit's message starts with (before `: `): `<cell> <year>`, and for an attachment
    /// book `<host> <year> <member id> <home>`.
    pub fn head(&self) -> String {
        match &self.attached {
            None => format!("{} {}", self.cell, self.year),
            Some(a) => format!("{} {} {} {}", self.cell, self.year, a.member, a.home),
        }
    }

    /// The units whose nodes hold the book: the cell, and for an attachment book the home cell too.
    pub fn units(&self) -> Vec<&UnitPath> {
        let mut out = vec![&self.cell];
        if let Some(a) = &self.attached {
            out.push(&a.home);
        }
        out
    }
}

impl fmt::Display for LedgerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.head())
    }
}

/// The years a ledger may be kept for (the range dossier dates accept).
pub const YEARS: RangeInclusive<i32> = 1900..=2200;

/// The longest topic or reason, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// The most meetings of one kind a cell may hold on one day (the `n` of a [`MeetingKey`]).
pub const MAX_SAME_DAY: u8 = 9;

/// Message of the genesis change.
pub(super) const GENESIS_MESSAGE: &str = "genesis";

pub(super) const ID_ALPHABET: data_encoding::Encoding = data_encoding::BASE32_NOPAD;

/// A ledger's document id: the first 16 bytes of SHA-256 over
/// `b"rollmesh/ledger/v1\0" ‖ cell path ‖ 0x00 ‖ year (i32, big-endian)`. Every node that needs the
/// ledger of one cell for one year names the same document. Shown as 26 lowercase base32 characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LedgerId(pub [u8; 16]);

impl LedgerId {
    /// The id of `cell`'s ledger for `year`.
    pub fn of(cell: &UnitPath, year: i32) -> LedgerId {
        let mut h = Sha256::new();
        h.update(ID_DOMAIN);
        h.update(cell.as_str().as_bytes());
        h.update([0u8]);
        h.update(year.to_be_bytes());
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        LedgerId(id)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The book named at the head of a ledger change's message (every edit's message starts with
    /// [`LedgerName::head`] and `: `), provided it is this document's: the id is a hash of the name, so a
    /// change cannot name another cell, year or attachment than the document it edits. A node receiving
    /// the first change of a ledger learns from it which genesis to start from.
    pub fn identify(&self, message: Option<&str>) -> Option<LedgerName> {
        let (head, _) = message?.split_once(": ")?;
        let parts: Vec<&str> = head.split(' ').collect();
        let (cell, year) = (
            UnitPath::parse(parts.first()?).ok()?,
            parts.get(1)?.parse().ok()?,
        );
        let name = match parts.as_slice() {
            [_, _] => LedgerName::cell(cell, year),
            [_, _, member, home] => LedgerName::attachment(
                cell,
                year,
                member.parse().ok()?,
                UnitPath::parse(home).ok()?,
            ),
            _ => return None,
        };
        (YEARS.contains(&year) && name.id() == *self && name.head() == head).then_some(name)
    }

    /// The actor of the genesis change (the id's bytes). No node may author anything else with it.
    pub fn genesis_actor(&self) -> ActorId {
        ActorId::from(self.0)
    }
}

impl fmt::Display for LedgerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&ID_ALPHABET.encode(&self.0).to_ascii_lowercase())
    }
}

/// A ledger id string was not 26 base32 characters.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a ledger id (26 letters and digits 2-7)")]
pub struct BadLedgerId(pub String);

impl FromStr for LedgerId {
    type Err = BadLedgerId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        let bytes = ID_ALPHABET
            .decode(upper.as_bytes())
            .map_err(|_| BadLedgerId(s.to_string()))?;
        let arr: [u8; 16] = bytes.try_into().map_err(|_| BadLedgerId(s.to_string()))?;
        Ok(LedgerId(arr))
    }
}

/// The key of one meeting: its date, its kind and, for a second (third…) meeting of the same kind on the
/// same day, its number. Shown as `2025-03-11/regular`, `2025-03-11/regular-2`: the same meeting recorded
/// at two nodes has the same key and merges into one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MeetingKey {
    /// The day it was held.
    pub date: NaiveDate,
    /// Regular or thematic.
    pub kind: MeetingKind,
    /// 1 for the first meeting of this kind that day, 2 for the second… (at most [`MAX_SAME_DAY`]).
    pub n: u8,
}

impl MeetingKey {
    /// The first meeting of `kind` on `date`.
    pub fn new(date: NaiveDate, kind: MeetingKind) -> MeetingKey {
        MeetingKey { date, kind, n: 1 }
    }

    /// The `n`-th meeting of `kind` on `date` (1-based).
    pub fn nth(date: NaiveDate, kind: MeetingKind, n: u8) -> MeetingKey {
        MeetingKey { date, kind, n }
    }
}

impl fmt::Display for MeetingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.date.format("%Y-%m-%d"), self.kind.key())?;
        if self.n != 1 {
            write!(f, "-{}", self.n)?;
        }
        Ok(())
    }
}

/// A string is not a meeting key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a meeting key (like 2025-03-11/regular or 2025-03-11/thematic-2)")]
pub struct BadMeetingKey(pub String);

impl FromStr for MeetingKey {
    type Err = BadMeetingKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadMeetingKey(s.to_string());
        let (text, rest) = s.split_once('/').ok_or_else(bad)?;
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?;
        if date.format("%Y-%m-%d").to_string() != text {
            return Err(bad());
        }
        let (kind, n) = match rest.split_once('-') {
            Some((kind, text)) => {
                // Canonical numbers only (`-2`, never `-02` or `-1`), so one meeting has one key.
                let n: u8 = text.parse().map_err(|_| bad())?;
                if !(2..=MAX_SAME_DAY).contains(&n) || n.to_string() != text {
                    return Err(bad());
                }
                (kind, n)
            }
            None => (rest, 1),
        };
        let kind = MeetingKind::from_key(kind).ok_or_else(bad)?;
        Ok(MeetingKey { date, kind, n })
    }
}
