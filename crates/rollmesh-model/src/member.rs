//! Member identity, the dossier's typed fields, statuses and events, and the compact projection the store
//! keeps of each dossier for listing and search. The mapping from these types to Automerge keys lives in
//! one place, `dossier.rs`; everything else uses the types.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::text;
use crate::unit::UnitPath;

/// A member's permanent document id: 16 bytes — the creation time in milliseconds (6 bytes, big-endian)
/// then 10 random bytes — shown as 26 lowercase base32 characters of the random part followed by the time,
/// so the text form starts with random characters (short unique prefixes) while the store, which orders
/// keys by the bytes, keeps members created together in neighbouring pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberId(pub [u8; 16]);

const ID_ALPHABET: data_encoding::Encoding = data_encoding::BASE32_NOPAD;

impl MemberId {
    /// The id of a member created at `unix_ms` (milliseconds) with these 80 random bits. The caller
    /// reads the clock and the random source: this crate does no I/O.
    pub fn new(unix_ms: u64, random: [u8; 10]) -> Self {
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
        b[6..].copy_from_slice(&random);
        MemberId(b)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The creation time the id carries, in milliseconds since 1970.
    pub fn unix_ms(&self) -> u64 {
        let mut t = [0u8; 8];
        t[2..].copy_from_slice(&self.0[..6]);
        u64::from_be_bytes(t)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = [0u8; 16];
        shown[..10].copy_from_slice(&self.0[6..]);
        shown[10..].copy_from_slice(&self.0[..6]);
        f.write_str(&ID_ALPHABET.encode(&shown).to_ascii_lowercase())
    }
}

/// A member id string was not 26 base32 characters.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a member id (26 letters and digits 2-7)")]
pub struct BadMemberId(pub String);

impl FromStr for MemberId {
    type Err = BadMemberId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        let bytes = ID_ALPHABET
            .decode(upper.as_bytes())
            .map_err(|_| BadMemberId(s.to_string()))?;
        let shown: [u8; 16] = bytes.try_into().map_err(|_| BadMemberId(s.to_string()))?;
        let mut arr = [0u8; 16];
        arr[..6].copy_from_slice(&shown[10..]);
        arr[6..].copy_from_slice(&shown[..10]);
        Ok(MemberId(arr))
    }
}

/// Sex as recorded in the dossier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    /// Nam.
    Male,
    /// Nữ.
    Female,
}

impl Sex {
    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }

    /// Accepts English keys and Vietnamese words, any case, with or without diacritics.
    pub fn parse(s: &str) -> Option<Sex> {
        match text::fold(s).as_str() {
            "male" | "m" | "nam" => Some(Sex::Male),
            "female" | "f" | "nu" => Some(Sex::Female),
            _ => None,
        }
    }
}

macro_rules! keyed_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $key:literal, $vi:literal, $en:literal;)+ }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        $(#[$m])*
        pub enum $name { $($(#[$vm])* $var,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            /// The stored key.
            pub fn key(self) -> &'static str {
                match self { $($name::$var => $key,)+ }
            }

            /// The Vietnamese label.
            pub fn label_vi(self) -> &'static str {
                match self { $($name::$var => $vi,)+ }
            }

            /// The English label.
            pub fn label_en(self) -> &'static str {
                match self { $($name::$var => $en,)+ }
            }

            /// Accepts the key or either label, case- and diacritic-insensitively.
            pub fn parse(s: &str) -> Option<$name> {
                // Stored values are keys: find those without folding anything.
                if let Some(v) = $name::ALL.iter().copied().find(|v| v.key() == s) {
                    return Some(v);
                }
                let f = text::fold(s).replace([' ', '-'], "_");
                $name::ALL.iter().copied().find(|v| {
                    v.key() == f
                        || text::fold(v.label_vi()).replace([' ', '-'], "_") == f
                        || text::fold(v.label_en()).replace([' ', '-'], "_") == f
                })
            }
        }
    };
}

pub(crate) use keyed_enum;

keyed_enum!(
    /// A member's status (docs/BRIEF.md §3).
    Status {
        /// Quần chúng ưu tú, on the way to admission.
        Candidate = "candidate", "Đối tượng kết nạp", "Candidate";
        /// Đảng viên dự bị.
        Probationary = "probationary", "Dự bị", "Probationary";
        /// Đảng viên chính thức.
        Official = "official", "Chính thức", "Official";
        /// Miễn sinh hoạt.
        Exempted = "exempted", "Miễn sinh hoạt", "Exempted from activity";
        /// Sinh hoạt tạm thời elsewhere.
        TemporarilyAway = "temporarily_away", "Sinh hoạt tạm thời", "Temporarily away";
        /// Xóa tên.
        StruckOff = "struck_off", "Xóa tên", "Struck off";
        /// Khai trừ.
        Expelled = "expelled", "Khai trừ", "Expelled";
        /// Xin ra khỏi Đảng.
        Resigned = "resigned", "Ra khỏi Đảng", "Resigned";
        /// Từ trần.
        Deceased = "deceased", "Từ trần", "Deceased";
        /// On the way to a new cell: the transfer is decided, the new cell has not received the member
        /// yet (counted nowhere until it does).
        Transferring = "transferring", "Đang chuyển sinh hoạt", "In transfer";
    }
);

keyed_enum!(
    /// Occupation sector, for the structure reports.
    Sector {
        /// Giảng viên.
        Lecturer = "lecturer", "Giảng viên", "Lecturer";
        /// Giáo viên.
        Teacher = "teacher", "Giáo viên", "Teacher";
        /// Học sinh, sinh viên.
        Student = "student", "Học sinh sinh viên", "Student";
        /// Công nhân.
        Worker = "worker", "Công nhân", "Worker";
        /// Nông dân.
        Farmer = "farmer", "Nông dân", "Farmer";
        /// Cán bộ, công chức, viên chức.
        CivilServant = "civil_servant", "Công chức viên chức", "Civil servant";
        /// Lực lượng vũ trang.
        ArmedForces = "armed_forces", "Lực lượng vũ trang", "Armed forces";
        /// Doanh nghiệp.
        Business = "business", "Doanh nghiệp", "Business";
        /// Nghỉ hưu.
        Retired = "retired", "Nghỉ hưu", "Retired";
        /// Khác.
        Other = "other", "Khác", "Other";
    }
);

keyed_enum!(
    /// The kinds of event a dossier records.
    EventKind {
        /// Kết nạp.
        Admission = "admission", "Kết nạp", "Admission";
        /// Công nhận chính thức.
        Confirmation = "confirmation", "Công nhận chính thức", "Confirmation";
        /// Chuyển sinh hoạt.
        Transfer = "transfer", "Chuyển sinh hoạt", "Transfer";
        /// Xếp loại hằng năm.
        Rating = "rating", "Xếp loại", "Annual rating";
        /// Kỷ luật.
        Discipline = "discipline", "Kỷ luật", "Discipline";
        /// Khen thưởng, huy hiệu.
        Award = "award", "Khen thưởng", "Award";
        /// Quyết định rà soát, sàng lọc.
        Screening = "screening", "Rà soát", "Screening";
        /// Đổi trạng thái.
        StatusChange = "status_change", "Đổi trạng thái", "Status change";
        /// Khác.
        Note = "note", "Ghi chú", "Note";
        /// A step of a case (docs/PROTOCOL.md §3d): written only by the unit entitled to take it.
        CaseStep = "case_step", "Bước hồ sơ", "Case step";
    }
);

/// What a field's values look like; decides how input is validated and normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text, stored NFC.
    Text,
    /// A calendar date, stored `YYYY-MM-DD`.
    Date,
    /// [`Sex`], stored by key.
    Sex,
    /// [`Status`], stored by key.
    Status,
    /// [`Sector`], stored by key.
    Sector,
    /// A [`UnitPath`].
    Unit,
    /// Digits only, with a required length range.
    Digits(usize, usize),
    /// A phone number: digits, optionally a leading `+`.
    Phone,
}

macro_rules! fields {
    ($($(#[$vm:meta])* $var:ident = $key:literal, $kind:expr, $vi:literal, $en:literal;)+) => {
        /// A scalar field of the member dossier. The key is both the Automerge map key and the CSV column.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Field { $($(#[$vm])* $var,)+ }

        impl Field {
            /// Every field, in dossier order.
            pub const ALL: &'static [Field] = &[$(Field::$var),+];

            /// The stored key (also the CSV column name and the CLI flag).
            pub fn key(self) -> &'static str {
                match self { $(Field::$var => $key,)+ }
            }

            /// How values of this field are validated.
            pub fn kind(self) -> FieldKind {
                match self { $(Field::$var => $kind,)+ }
            }

            /// The Vietnamese label.
            pub fn label_vi(self) -> &'static str {
                match self { $(Field::$var => $vi,)+ }
            }

            /// The English label.
            pub fn label_en(self) -> &'static str {
                match self { $(Field::$var => $en,)+ }
            }
        }
    };
}

fields!(
    /// Số lý lịch (opaque).
    DossierNo = "dossier_no", FieldKind::Text, "Số lý lịch", "Dossier number";
    /// Số thẻ đảng viên (opaque).
    CardNo = "card_no", FieldKind::Text, "Số thẻ đảng viên", "Card number";
    /// CCCD: 12 digits.
    CitizenId = "citizen_id", FieldKind::Digits(9, 12), "Số CCCD", "Citizen id";
    /// Họ và tên.
    FullName = "full_name", FieldKind::Text, "Họ và tên", "Full name";
    /// Tên gọi khác.
    OtherNames = "other_names", FieldKind::Text, "Tên gọi khác", "Other names";
    /// Giới tính.
    Sex = "sex", FieldKind::Sex, "Giới tính", "Sex";
    /// Ngày sinh.
    DateOfBirth = "dob", FieldKind::Date, "Ngày sinh", "Date of birth";
    /// Nơi sinh.
    BirthPlace = "birth_place", FieldKind::Text, "Nơi sinh", "Place of birth";
    /// Quê quán.
    Hometown = "hometown", FieldKind::Text, "Quê quán", "Hometown";
    /// Nơi thường trú.
    PermanentResidence = "permanent_residence", FieldKind::Text, "Nơi thường trú", "Permanent residence";
    /// Nơi ở hiện nay.
    CurrentResidence = "current_residence", FieldKind::Text, "Nơi ở hiện nay", "Current residence";
    /// Phường/xã nơi ở hiện nay: the administrative ward of the current residence (compared with a
    /// residential cell's ward by rule R14).
    ResidenceWard = "residence_ward", FieldKind::Text, "Phường/xã nơi ở", "Ward of residence";
    /// Dân tộc.
    Ethnicity = "ethnicity", FieldKind::Text, "Dân tộc", "Ethnicity";
    /// Tôn giáo.
    Religion = "religion", FieldKind::Text, "Tôn giáo", "Religion";
    /// Nghề nghiệp, lĩnh vực.
    Sector = "sector", FieldKind::Sector, "Lĩnh vực", "Sector";
    /// Nghề nghiệp (free text).
    Occupation = "occupation", FieldKind::Text, "Nghề nghiệp", "Occupation";
    /// Nơi làm việc.
    Workplace = "workplace", FieldKind::Text, "Nơi làm việc", "Workplace";
    /// Giáo dục phổ thông.
    EduGeneral = "edu_general", FieldKind::Text, "Giáo dục phổ thông", "General education";
    /// Chuyên môn, nghiệp vụ.
    EduProfessional = "edu_professional", FieldKind::Text, "Chuyên môn nghiệp vụ", "Professional education";
    /// Lý luận chính trị.
    EduPolitical = "edu_political", FieldKind::Text, "Lý luận chính trị", "Political theory";
    /// Ngoại ngữ.
    EduLanguage = "edu_language", FieldKind::Text, "Ngoại ngữ", "Foreign language";
    /// Học hàm, học vị.
    AcademicTitle = "academic_title", FieldKind::Text, "Học hàm, học vị", "Academic degree/title";
    /// Ngày vào Đoàn.
    YouthUnionDate = "youth_union_date", FieldKind::Date, "Ngày vào Đoàn", "Youth Union join date";
    /// Ngày vào Đảng.
    AdmissionDate = "admission_date", FieldKind::Date, "Ngày vào Đảng", "Admission date";
    /// Nơi kết nạp.
    AdmissionPlace = "admission_place", FieldKind::Text, "Nơi kết nạp", "Admission place";
    /// Người giới thiệu thứ nhất.
    Sponsor1 = "sponsor1", FieldKind::Text, "Người giới thiệu 1", "First sponsor";
    /// Người giới thiệu thứ hai.
    Sponsor2 = "sponsor2", FieldKind::Text, "Người giới thiệu 2", "Second sponsor";
    /// Ngày chính thức.
    OfficialDate = "official_date", FieldKind::Date, "Ngày chính thức", "Official date";
    /// Đơn vị sinh hoạt hiện nay.
    Unit = "unit", FieldKind::Unit, "Chi bộ sinh hoạt", "Current unit";
    /// Chức vụ Đảng.
    Posts = "posts", FieldKind::Text, "Chức vụ Đảng", "Party posts";
    /// Điện thoại.
    Phone = "phone", FieldKind::Phone, "Điện thoại", "Phone";
    /// Trạng thái.
    Status = "status", FieldKind::Status, "Trạng thái", "Status";
);

/// A value a field does not accept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    /// No field has that key.
    #[error("unknown field {0:?}")]
    UnknownField(String),
    /// The value does not fit the field.
    #[error("{field}: {value:?} is not {expected}")]
    Invalid {
        /// The field's key.
        field: &'static str,
        /// The offending input.
        value: String,
        /// What the field accepts.
        expected: &'static str,
    },
    /// Identity fields may not be removed.
    #[error("{0} is required")]
    Required(&'static str),
}

impl Field {
    /// Looks a field up by key (`full_name`) or, for convenience, a few aliases (`name`, `residence`).
    pub fn from_key(key: &str) -> Result<Field, FieldError> {
        let k = key.trim().to_ascii_lowercase().replace('-', "_");
        let alias = match k.as_str() {
            "name" => "full_name",
            "residence" => "current_residence",
            "date_of_birth" => "dob",
            other => other,
        };
        // By key, else by its Vietnamese or English label, ignoring case and diacritics ("Dân tộc").
        let folded = text::fold(key);
        Field::ALL
            .iter()
            .copied()
            .find(|f| f.key() == alias)
            .or_else(|| {
                Field::ALL.iter().copied().find(|f| {
                    text::fold(f.label_vi()) == folded || text::fold(f.label_en()) == folded
                })
            })
            .ok_or_else(|| FieldError::UnknownField(key.to_string()))
    }

    /// Validates raw input and returns the value to store (NFC text, ISO dates, enum keys).
    pub fn normalize(self, raw: &str) -> Result<String, FieldError> {
        let v = text::clean(raw);
        let invalid = |expected| FieldError::Invalid {
            field: self.key(),
            value: raw.to_string(),
            expected,
        };
        if v.is_empty() {
            return Err(invalid("empty"));
        }
        match self.kind() {
            FieldKind::Text => {
                if v.chars().any(text::is_hidden) {
                    return Err(invalid(
                        "text without control, bidirectional or zero-width characters",
                    ));
                }
                if v.chars().count() > 500 {
                    return Err(invalid("at most 500 characters"));
                }
                Ok(v)
            }
            FieldKind::Date => parse_date(&v)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .ok_or_else(|| {
                    // Typed in the right shape but no such day (31/02): say so, not "use DD/MM/YYYY".
                    let shaped = v.split('/').map(str::len).collect::<Vec<_>>();
                    let digits = v.chars().all(|c| c.is_ascii_digit() || c == '/');
                    if digits && matches!(shaped.as_slice(), [1 | 2, 1 | 2, 4]) {
                        invalid("a day that exists in the calendar")
                    } else {
                        invalid("a date (YYYY-MM-DD or DD/MM/YYYY)")
                    }
                }),
            FieldKind::Sex => Sex::parse(&v)
                .map(|s| s.key().to_string())
                .ok_or_else(|| invalid("male/female (nam/nữ)")),
            FieldKind::Status => Status::parse(&v)
                .map(|s| s.key().to_string())
                .ok_or_else(|| invalid("a status (official, probationary, …)")),
            FieldKind::Sector => Sector::parse(&v)
                .map(|s| s.key().to_string())
                .ok_or_else(|| invalid("a sector (lecturer, teacher, student, …)")),
            FieldKind::Unit => UnitPath::parse(&v)
                .map(|u| u.to_string())
                .map_err(|_| invalid("a unit path like hn.d01.w01.c01")),
            FieldKind::Digits(min, max) => {
                if v.len() >= min && v.len() <= max && v.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(v)
                } else {
                    Err(invalid("digits of the right length"))
                }
            }
            FieldKind::Phone => {
                let compact: String = v
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '.')
                    .collect();
                let digits = compact.strip_prefix('+').unwrap_or(&compact);
                if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(compact)
                } else {
                    Err(invalid("a phone number"))
                }
            }
        }
    }
}

/// Parses `YYYY-MM-DD` or the Vietnamese `DD/MM/YYYY`.
/// Dates that cannot all be true of one member, given the normalised fields a dossier would hold and
/// today's date: a date in the future (birth, joining the Youth Union or the party, becoming official),
/// admission before the 16th birthday, becoming official before admission.
pub fn check_dates(
    get: impl Fn(Field) -> Option<String>,
    today: NaiveDate,
) -> Result<(), FieldError> {
    // The value in an error is shown the way a clerk types it.
    let date = |f: Field| {
        get(f).and_then(|v| parse_date(&v).map(|d| (d.format("%d/%m/%Y").to_string(), d)))
    };
    for f in [
        Field::DateOfBirth,
        Field::YouthUnionDate,
        Field::AdmissionDate,
        Field::OfficialDate,
    ] {
        if let Some((v, d)) = date(f) {
            if d > today {
                return Err(FieldError::Invalid {
                    field: f.key(),
                    value: v,
                    expected: "a date not in the future",
                });
            }
        }
    }
    if let (Some((_, born)), Some((v, admitted))) =
        (date(Field::DateOfBirth), date(Field::AdmissionDate))
    {
        if born
            .checked_add_months(chrono::Months::new(16 * 12))
            .is_none_or(|sixteen| admitted < sixteen)
        {
            return Err(FieldError::Invalid {
                field: Field::AdmissionDate.key(),
                value: v,
                expected: "a date after the 16th birthday",
            });
        }
    }
    if let (Some((_, admitted)), Some((v, official))) =
        (date(Field::AdmissionDate), date(Field::OfficialDate))
    {
        if official < admitted {
            return Err(FieldError::Invalid {
                field: Field::OfficialDate.key(),
                value: v,
                expected: "a date on or after the admission date",
            });
        }
    }
    Ok(())
}

pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .ok()
        .filter(|d| (1900..=2200).contains(&chrono::Datelike::year(d)))
}

/// One dossier event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// When (`YYYY-MM-DD`), if known.
    pub date: Option<String>,
    /// Free text: the rating, the decision number, the award…
    pub detail: String,
}

/// The compact projection of a dossier that the store keeps for listing, search and reports, so that
/// Automerge documents need not be loaded to answer queries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// The member's id.
    pub id: MemberId,
    /// Field values (winning value where there is a conflict).
    pub fields: BTreeMap<Field, String>,
    /// Events in document order.
    pub events: Vec<Event>,
    /// Fields that hold concurrent values.
    pub conflicted: Vec<Field>,
}

impl MemberRecord {
    /// A field's value.
    pub fn get(&self, f: Field) -> Option<&str> {
        self.fields.get(&f).map(String::as_str)
    }

    /// The member's unit; every valid dossier has one.
    pub fn unit(&self) -> Option<UnitPath> {
        self.get(Field::Unit).and_then(|u| UnitPath::parse(u).ok())
    }

    /// The member's status.
    pub fn status(&self) -> Option<Status> {
        self.get(Field::Status).and_then(Status::parse)
    }

    /// The full name.
    pub fn name(&self) -> &str {
        self.get(Field::FullName).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_id_round_trips() {
        let id = MemberId::new(0, rand::random());
        let s = id.to_string();
        assert_eq!(s.len(), 26);
        assert_eq!(s.parse::<MemberId>(), Ok(id));
        assert!("nope".parse::<MemberId>().is_err());
    }

    #[test]
    fn member_ids_sort_by_creation_but_show_random_prefixes() {
        let a = MemberId::new(1_700_000_000_000, [0xff; 10]);
        let b = MemberId::new(1_700_000_000_001, [0; 10]);
        assert!(a < b, "bytes start with the creation time");
        // Ids made in the same millisecond still differ in their first shown characters.
        let same: Vec<String> = (0..50)
            .map(|_| MemberId::new(0, rand::random()).to_string())
            .collect();
        let prefixes: std::collections::BTreeSet<&str> = same.iter().map(|s| &s[..4]).collect();
        assert!(prefixes.len() > 40, "{prefixes:?}");
    }

    #[test]
    fn field_normalisation() {
        assert_eq!(
            Field::DateOfBirth.normalize("01/05/1990").as_deref(),
            Ok("1990-05-01")
        );
        assert!(Field::DateOfBirth.normalize("1990-13-01").is_err());
        assert_eq!(Field::Sex.normalize("Nữ").as_deref(), Ok("female"));
        assert_eq!(
            Field::Status.normalize("Dự bị").as_deref(),
            Ok("probationary")
        );
        assert_eq!(
            Field::Status.normalize("temporarily away").as_deref(),
            Ok("temporarily_away")
        );
        assert_eq!(
            Field::Sector.normalize("Giảng viên").as_deref(),
            Ok("lecturer")
        );
        assert!(Field::CitizenId.normalize("12ab").is_err());
        assert_eq!(
            Field::Phone.normalize("0912 345 678").as_deref(),
            Ok("0912345678")
        );
        assert_eq!(Field::from_key("residence"), Ok(Field::CurrentResidence));
        assert!(Field::from_key("shoe_size").is_err());
    }

    #[test]
    fn field_keys_are_unique() {
        let mut keys: Vec<_> = Field::ALL.iter().map(|f| f.key()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), Field::ALL.len());
    }
}
