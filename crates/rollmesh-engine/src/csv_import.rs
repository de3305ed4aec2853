//! Reading a member CSV for `member import`, as a clerk's Excel writes it: UTF-8 with or without a BOM,
//! UTF-16 with a BOM (Excel's "Unicode text") or Windows-1258 (Vietnamese Excel's plain "CSV" on Windows);
//! comma, semicolon or tab separated (whichever splits the header into more known columns). The header
//! names fields by key (`full_name`), by label (`Họ và tên`, case- and diacritic-insensitively) or by a
//! common variant (`Họ tên`); numbering columns (`STT`, `TT`, `Số TT`), unnamed columns and the `Lý do`
//! column of a rejected-rows file are ignored; an `id` (`Mã`) column names members to update.
//!
//! Every row is validated on its own and each bad row is reported with the line it starts on and why, so
//! one typo never blocks the other rows. A row that matches a member already known ([`DupIndex`]) or an
//! earlier row of the file, by citizen id, else dossier number, else card number, else full name and date
//! of birth, is refused as a duplicate: re-running an interrupted import adds only what is missing.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Read};

use rollmesh_model::member::{parse_date, FieldKind};
use rollmesh_model::{text, Field, MemberId, MemberRecord, UnitPath};

mod cells;
mod duplicates;
mod encoding;
mod header;
mod sheet;
mod xlsx;

pub use cells::*;
pub use duplicates::*;
pub use encoding::*;
pub use header::*;
pub use sheet::*;
pub use xlsx::*;

/// A valid row, ready to become a dossier or to update one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The 1-based line of the file the row starts on.
    pub line: u64,
    /// Normalised field values. A new member's row always holds its unit (the default one if the file
    /// names none); an update holds only the fields its cells give.
    pub fields: BTreeMap<Field, String>,
    /// The member this row updates (from the `id` column); `None` for a new member.
    pub id: Option<MemberId>,
    /// The row's cells as read, for an update (which can still be refused when it is written, and then
    /// goes to the rejected-rows file); empty for a new member.
    pub values: Vec<String>,
}

/// Where a duplicate's original is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A member already in the store.
    Member(MemberId),
    /// An earlier row of the same file, by line.
    Line(u64),
}

impl Origin {
    fn is(&self, id: Option<MemberId>) -> bool {
        matches!((self, id), (Origin::Member(a), Some(b)) if *a == b)
    }
}

/// What two rows had in common to be taken for the same person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchKey {
    /// Số CCCD.
    CitizenId,
    /// Số lý lịch.
    DossierNo,
    /// Số thẻ đảng viên.
    CardNo,
    /// Full name (diacritic-insensitively) and date of birth, with no identifier contradicting.
    NameAndDob,
    /// The same member id (two rows updating one member).
    Id,
}

impl MatchKey {
    fn text(self) -> String {
        match self {
            MatchKey::CitizenId => crate::msg!("cùng Số CCCD", "same citizen id"),
            MatchKey::DossierNo => crate::msg!("cùng Số lý lịch", "same dossier number"),
            MatchKey::CardNo => crate::msg!("cùng Số thẻ đảng viên", "same card number"),
            MatchKey::NameAndDob => {
                crate::msg!(
                    "cùng họ tên và ngày sinh",
                    "same full name and date of birth"
                )
            }
            MatchKey::Id => crate::msg!("cùng mã đảng viên", "same member id"),
        }
    }
}

/// A row found to be a duplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The member or earlier row it duplicates.
    pub of: Origin,
    /// What they share.
    pub by: MatchKey,
}

/// A refused row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// The 1-based line of the file the row starts on.
    pub line: u64,
    /// Why, in the clerk's language.
    pub reason: String,
    /// Set when the row was refused as a duplicate.
    pub duplicate: Option<Duplicate>,
    /// The row's cells as read (for the rejected-rows file).
    pub values: Vec<String>,
}

/// The whole file, sorted into good and bad rows.
#[derive(Debug, Default)]
pub struct ParsedCsv {
    /// Rows to import, in file order.
    pub good: Vec<Row>,
    /// Rows refused, in file order.
    pub bad: Vec<BadRow>,
}

/// Why the file as a whole cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The header names a column that is not a dossier field.
    UnknownColumn(String),
    /// The header names neither the full name nor the member id.
    NoNameColumn,
    /// A column is named twice.
    DuplicateColumn(String),
    /// The header row is unreadable.
    Header(String),
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            CsvError::UnknownColumn(c) => crate::msg!(
                "cột {c:?} ở dòng tiêu đề không phải trường của hồ sơ (xem `rollmesh member fields`; cột STT và cột không tên được bỏ qua)",
                "unknown column {c:?} in the header (expected field keys such as full_name, dob, sex, or their labels; see `rollmesh member fields`)"
            ),
            CsvError::NoNameColumn => crate::msg!(
                "dòng tiêu đề không có cột Họ và tên",
                "the header has no full_name column"
            ),
            CsvError::DuplicateColumn(c) => crate::msg!(
                "cột {c:?} xuất hiện hai lần ở dòng tiêu đề",
                "column {c:?} appears twice in the header"
            ),
            CsvError::Header(e) => crate::msg!(
                "không đọc được dòng tiêu đề: {e}",
                "cannot read the CSV header: {e}"
            ),
        };
        f.write_str(&s)
    }
}

const ID_FIELDS: [(Field, MatchKey); 3] = [
    (Field::CitizenId, MatchKey::CitizenId),
    (Field::DossierNo, MatchKey::DossierNo),
    (Field::CardNo, MatchKey::CardNo),
];

/// Reads a member CSV row by row, validating each (for imports that stream a large file).
pub struct Reader<R> {
    rdr: csv::Reader<Body<R>>,
    columns: Vec<Column>,
    header: Vec<String>,
    encoding: Encoding,
    delimiter: u8,
    default_unit: UnitPath,
    scope: UnitPath,
    record: csv::ByteRecord,
    index: DupIndex,
    tree: Option<std::sync::Arc<rollmesh_model::OrgTree>>,
}

impl<R: Read> Reader<R> {
    /// Reads the header of `input`, text in `encoding` (see [`detect_encoding`]). Members are placed in
    /// `default_unit` unless a `unit` column says otherwise; a unit outside `scope` is a bad row. No
    /// member is known yet: see [`Reader::with_index`].
    pub fn new(
        input: R,
        encoding: Encoding,
        default_unit: &UnitPath,
        scope: &UnitPath,
    ) -> Result<Self, CsvError> {
        let mut decoded = Decoded::new(input, encoding);
        let line = header_line(&mut decoded).map_err(|e| CsvError::Header(e.to_string()))?;
        let delimiter = detect_delimiter(&line);
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .delimiter(delimiter)
            .from_reader(LineTracker::new(io::Cursor::new(line).chain(decoded)));
        let header: Vec<String> = rdr
            .byte_headers()
            .map_err(|e| CsvError::Header(e.to_string()))?
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        let mut columns = Vec::new();
        for name in &header {
            let c = column(name).ok_or_else(|| CsvError::UnknownColumn(name.clone()))?;
            if c != Column::Ignore && columns.contains(&c) {
                return Err(CsvError::DuplicateColumn(name.clone()));
            }
            columns.push(c);
        }
        if !columns.contains(&Column::Field(Field::FullName)) && !columns.contains(&Column::Id) {
            return Err(CsvError::NoNameColumn);
        }
        Ok(Reader {
            rdr,
            columns,
            header,
            encoding,
            delimiter,
            default_unit: default_unit.clone(),
            scope: scope.clone(),
            record: csv::ByteRecord::new(),
            index: DupIndex::new(),
            tree: None,
        })
    }

    /// Compares rows against these known members (and their ids) as well as against earlier rows.
    pub fn with_index(mut self, index: DupIndex) -> Self {
        self.index = index;
        self
    }

    /// Checks each row's unit against the city's tree: it must be a unit of the tree with no units
    /// below it (a cell), or the row is refused.
    pub fn with_tree(mut self, tree: Option<std::sync::Arc<rollmesh_model::OrgTree>>) -> Self {
        self.tree = tree;
        self
    }

    /// The header cells as read.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The file's encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The separator found in the header (`,`, `;` or tab).
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    fn cells(&self) -> Vec<String> {
        self.record
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    }

    fn bad(&self, line: u64, reason: String, duplicate: Option<Duplicate>) -> BadRow {
        BadRow {
            line,
            reason,
            duplicate,
            values: self.cells(),
        }
    }

    /// The next row, valid or refused; `None` at the end of the file. Rows whose cells are all empty
    /// (what Excel writes for formatted but empty rows) are skipped.
    pub fn next_row(&mut self) -> Option<Result<Row, BadRow>> {
        loop {
            let start_hint = self.rdr.position().byte();
            match self.rdr.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    let at = e.position().map(|p| p.byte()).unwrap_or(start_hint);
                    let line = self.rdr.get_mut().line_at(at);
                    return Some(Err(BadRow {
                        line,
                        reason: crate::msg!("dòng không đọc được: {e}", "unreadable row: {e}"),
                        duplicate: None,
                        values: Vec::new(),
                    }));
                }
            }
            let at = self
                .record
                .position()
                .map(|p| p.byte())
                .unwrap_or(start_hint);
            let line = self.rdr.get_mut().line_at(at);
            if self
                .record
                .iter()
                .all(|c| c.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            let (fields, id) =
                match validate_row(&self.record, &self.columns, &self.default_unit, &self.scope)
                    .and_then(|(fields, id)| {
                        check_cell(self.tree.as_deref(), fields.get(&Field::Unit))?;
                        Ok((fields, id))
                    }) {
                    Ok(v) => v,
                    Err(reason) => return Some(Err(self.bad(line, reason, None))),
                };
            if let Some(id) = id {
                if !self.index.knows(&id) {
                    let reason = crate::msg!(
                        "không có đảng viên mã {id} trong phạm vi của nút này",
                        "no member with id {id} in this node's scope"
                    );
                    return Some(Err(self.bad(line, reason, None)));
                }
            }
            if let Some(d) = self.index.check_and_add(&fields, id, line) {
                return Some(Err(self.bad(line, duplicate_reason(&d), Some(d))));
            }
            let values = if id.is_some() {
                self.cells()
            } else {
                Vec::new()
            };
            return Some(Ok(Row {
                line,
                fields,
                id,
                values,
            }));
        }
    }

    /// Bytes of the file read so far.
    pub fn bytes_read(&self) -> u64 {
        self.rdr.get_ref().inner.get_ref().1.raw_bytes_read()
    }
}

/// Reads and validates every row of a whole file held in memory, detecting its encoding (see
/// [`Reader`]; no member is known, so every row with an id is refused).
pub fn parse(
    input: &[u8],
    default_unit: &UnitPath,
    scope: &UnitPath,
) -> Result<ParsedCsv, CsvError> {
    let encoding = detect_encoding(input).map_err(|e| CsvError::Header(e.to_string()))?;
    let mut reader = Reader::new(input, encoding, default_unit, scope)?;
    let mut out = ParsedCsv::default();
    while let Some(row) = reader.next_row() {
        match row {
            Ok(r) => out.good.push(r),
            Err(b) => out.bad.push(b),
        }
    }
    Ok(out)
}

/// A refused cell in the clerk's language, what the field expects included.
pub(super) fn cell_error(e: &rollmesh_model::FieldError) -> String {
    use rollmesh_model::FieldError;
    let FieldError::Invalid {
        field,
        value,
        expected,
    } = e
    else {
        return crate::i18n::field_error(e);
    };
    if crate::i18n::is_en() {
        return e.to_string();
    }
    let Ok(f) = Field::from_key(field) else {
        return crate::i18n::field_error(e);
    };
    let want = match f.kind() {
        _ if *expected == "at most 500 characters" => "tối đa 500 ký tự".to_string(),
        FieldKind::Date => "ngày dạng DD/MM/YYYY hoặc YYYY-MM-DD".to_string(),
        FieldKind::Sex => "Nam hoặc Nữ".to_string(),
        FieldKind::Status => "một trạng thái như Chính thức, Dự bị, Miễn sinh hoạt".to_string(),
        FieldKind::Sector => {
            "một lĩnh vực như Giảng viên, Giáo viên, Học sinh sinh viên, Công nhân".to_string()
        }
        FieldKind::Unit => "mã đơn vị dạng hn.d01.w01.c01".to_string(),
        FieldKind::Digits(min, max) => format!("từ {min} đến {max} chữ số"),
        FieldKind::Phone => "số điện thoại từ 8 đến 15 chữ số".to_string(),
        FieldKind::Text => return crate::i18n::field_error(e),
    };
    let label = f.label_vi();
    format!("{label} ({field}): giá trị {value:?} không hợp lệ (cần {want})")
}

/// A row's unit against the city's tree: a unit of the tree with no units below it.
fn check_cell(tree: Option<&rollmesh_model::OrgTree>, unit: Option<&String>) -> Result<(), String> {
    let (Some(tree), Some(unit)) = (tree, unit) else {
        return Ok(());
    };
    let Ok(u) = UnitPath::parse(unit) else {
        return Ok(());
    };
    if tree.unit(&u).is_none() {
        return Err(crate::msg!(
            "đơn vị {u} không có trong cây tổ chức",
            "unit {u} is not in the organisation tree"
        ));
    }
    if tree.has_children(&u) {
        return Err(crate::msg!(
            "đơn vị {u} còn có đơn vị cấp dưới: đảng viên sinh hoạt ở chi bộ",
            "unit {u} has units below it: a member belongs to a cell"
        ));
    }
    Ok(())
}

/// Validates one row: its field values (normalised) and the member it updates, if it names one. A new
/// member's row gets the default unit when it names none.
pub(super) fn validate_row(
    record: &csv::ByteRecord,
    columns: &[Column],
    default_unit: &UnitPath,
    scope: &UnitPath,
) -> Result<(BTreeMap<Field, String>, Option<MemberId>), String> {
    if record.len() != columns.len() {
        let (n, h) = (record.len(), columns.len());
        return Err(crate::msg!(
            "có {n} cột, dòng tiêu đề có {h}",
            "{n} columns, the header has {h}"
        ));
    }
    let mut fields = BTreeMap::new();
    let mut id = None;
    for (raw, c) in record.iter().zip(columns) {
        let cell = String::from_utf8_lossy(raw);
        let value = strip_neutraliser(cell.trim());
        if value.is_empty() {
            continue;
        }
        match c {
            Column::Ignore => {}
            Column::Id => {
                id = Some(value.parse::<MemberId>().map_err(|_| {
                    crate::msg!(
                        "mã đảng viên {value:?} không hợp lệ (26 chữ cái và chữ số 2-7)",
                        "{value:?} is not a member id (26 letters and digits 2-7)"
                    )
                })?);
            }
            Column::Field(f) => {
                let v = f.normalize(value).map_err(|e| cell_error(&e))?;
                fields.insert(*f, v);
            }
        }
    }
    if id.is_none() && !fields.contains_key(&Field::FullName) {
        return Err(crate::msg!(
            "thiếu họ tên (full_name)",
            "full_name is empty"
        ));
    }
    let unit = match fields.get(&Field::Unit) {
        Some(u) => Some(UnitPath::parse(u).map_err(|e| e.to_string())?),
        None if id.is_none() => Some(default_unit.clone()),
        None => None,
    };
    if let Some(unit) = unit {
        if !scope.covers(&unit) {
            return Err(crate::msg!(
                "đơn vị {unit} nằm ngoài phạm vi {scope} của nút này",
                "unit {unit} is outside this node's scope {scope}"
            ));
        }
        fields.insert(Field::Unit, unit.to_string());
    }
    Ok((fields, id))
}

#[cfg(test)]
mod tests;
