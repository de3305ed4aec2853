//! Reading a member CSV for `member import`: the header names fields (by key such as `full_name`, or by
//! their Vietnamese or English label such as `Họ và tên`), every row is validated on its own, and each bad
//! row is reported with its line number and reason, so one typo never blocks the other rows.

use std::collections::BTreeMap;
use std::io::Read;

use rollmesh_model::{text, Field, UnitPath};

/// A valid row, ready to become a dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The 1-based line of the file the row starts on.
    pub line: u64,
    /// Normalised field values.
    pub fields: BTreeMap<Field, String>,
}

/// A refused row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// The 1-based line of the file the row starts on.
    pub line: u64,
    /// Why (English detail; the CLI adds a Vietnamese lead).
    pub reason: String,
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
    #[error(
        "unknown column {0:?} in the header (expected field keys such as full_name, dob, sex)"
    )]
    UnknownColumn(String),
    /// The header does not name the full name column.
    #[error("the header has no full_name column")]
    NoNameColumn,
    /// A column is named twice.
    #[error("column {0:?} appears twice in the header")]
    DuplicateColumn(String),
    /// The header row is unreadable.
    #[error("cannot read the CSV header: {0}")]
    Header(String),
}

fn column(name: &str) -> Option<Field> {
    let stripped = name.trim().trim_start_matches('\u{feff}');
    if let Ok(f) = Field::from_key(stripped) {
        return Some(f);
    }
    let folded = text::fold(stripped);
    Field::ALL
        .iter()
        .copied()
        .find(|f| text::fold(f.label_vi()) == folded || text::fold(f.label_en()) == folded)
}

/// Reads a member CSV row by row, validating each (for imports that stream a large file).
pub struct Reader<R> {
    rdr: csv::Reader<R>,
    columns: Vec<Field>,
    default_unit: UnitPath,
    scope: UnitPath,
    record: csv::ByteRecord,
}

impl<R: Read> Reader<R> {
    /// Reads the header. Members are placed in `default_unit` unless a `unit` column says otherwise; a
    /// unit outside `scope` is a bad row.
    pub fn new(input: R, default_unit: &UnitPath, scope: &UnitPath) -> Result<Self, CsvError> {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(input);
        let headers = rdr
            .byte_headers()
            .map_err(|e| CsvError::Header(e.to_string()))?
            .clone();
        let mut columns = Vec::new();
        for h in headers.iter() {
            let name = String::from_utf8_lossy(h).to_string();
            let f = column(&name).ok_or_else(|| CsvError::UnknownColumn(name.clone()))?;
            if columns.contains(&f) {
                return Err(CsvError::DuplicateColumn(name));
            }
            columns.push(f);
        }
        if !columns.contains(&Field::FullName) {
            return Err(CsvError::NoNameColumn);
        }
        Ok(Reader {
            rdr,
            columns,
            default_unit: default_unit.clone(),
            scope: scope.clone(),
            record: csv::ByteRecord::new(),
        })
    }

    /// The next row, valid or refused; `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<Row, BadRow>> {
        let line_hint = self.rdr.position().line();
        match self.rdr.read_byte_record(&mut self.record) {
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line_hint);
                return Some(Err(BadRow {
                    line,
                    reason: crate::msg!("dòng không đọc được: {e}", "unreadable row: {e}"),
                }));
            }
        }
        let line = self
            .record
            .position()
            .map(|p| p.line())
            .unwrap_or(line_hint);
        Some(
            match validate_row(&self.record, &self.columns, &self.default_unit, &self.scope) {
                Ok(fields) => Ok(Row { line, fields }),
                Err(reason) => Err(BadRow { line, reason }),
            },
        )
    }

    /// Bytes of the file read so far.
    pub fn bytes_read(&self) -> u64 {
        self.rdr.position().byte()
    }
}

/// Reads and validates every row at once (see [`Reader`]).
pub fn parse(
    input: impl Read,
    default_unit: &UnitPath,
    scope: &UnitPath,
) -> Result<ParsedCsv, CsvError> {
    let mut reader = Reader::new(input, default_unit, scope)?;
    let mut out = ParsedCsv::default();
    while let Some(row) = reader.next_row() {
        match row {
            Ok(r) => out.good.push(r),
            Err(b) => out.bad.push(b),
        }
    }
    Ok(out)
}

fn validate_row(
    record: &csv::ByteRecord,
    columns: &[Field],
    default_unit: &UnitPath,
    scope: &UnitPath,
) -> Result<BTreeMap<Field, String>, String> {
    if record.len() != columns.len() {
        let (n, h) = (record.len(), columns.len());
        return Err(crate::msg!(
            "có {n} cột, dòng tiêu đề có {h}",
            "{n} columns, the header has {h}"
        ));
    }
    let mut fields = BTreeMap::new();
    for (raw, f) in record.iter().zip(columns) {
        let value =
            std::str::from_utf8(raw).map_err(|_| format!("{}: not valid UTF-8 text", f.key()))?;
        if value.trim().is_empty() {
            continue;
        }
        let v = f
            .normalize(value)
            .map_err(|e| crate::i18n::field_error(&e))?;
        fields.insert(*f, v);
    }
    if !fields.contains_key(&Field::FullName) {
        return Err(crate::msg!(
            "thiếu họ tên (full_name)",
            "full_name is empty"
        ));
    }
    let unit = match fields.get(&Field::Unit) {
        Some(u) => UnitPath::parse(u).map_err(|e| e.to_string())?,
        None => default_unit.clone(),
    };
    if !scope.covers(&unit) {
        return Err(crate::msg!(
            "đơn vị {unit} nằm ngoài phạm vi {scope} của nút này",
            "unit {unit} is outside this node's scope {scope}"
        ));
    }
    fields.insert(Field::Unit, unit.to_string());
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit() -> UnitPath {
        UnitPath::parse("hn.d01.w01.c01").expect("unit")
    }

    #[test]
    fn good_and_bad_rows_with_line_numbers() {
        let csv = "Họ và tên,dob,sex,phone\n\
                   Nguyễn Văn An,1990-05-01,nam,0912345678\n\
                   Trần Thị Bình,31/02/1991,nữ,\n\
                   Lê Văn Cường,1985-01-01,male\n\
                   ,1980-01-01,male,\n\
                   \"Phạm Thị\nDung\",1970-07-07,female,\n\
                   Hoàng Văn Em,1999-09-09,x,\n";
        let p = parse(csv.as_bytes(), &unit(), &unit()).expect("parse");
        let good: Vec<u64> = p.good.iter().map(|r| r.line).collect();
        let bad: Vec<u64> = p.bad.iter().map(|r| r.line).collect();
        assert_eq!(good, vec![2, 6]);
        assert_eq!(bad, vec![3, 4, 5, 8]);
        assert!(p.bad[0].reason.contains("dob"), "{}", p.bad[0].reason);
        assert_eq!(p.good[0].fields[&Field::Sex], "male");
        assert_eq!(p.good[0].fields[&Field::Unit], "hn.d01.w01.c01");
    }

    #[test]
    fn refuses_unknown_columns_and_out_of_scope_units() {
        assert!(matches!(
            parse("full_name,shoe\nA,1\n".as_bytes(), &unit(), &unit()),
            Err(CsvError::UnknownColumn(_))
        ));
        let p = parse(
            "full_name,unit\nA,hn.d01.w01.c01\nB,hn.d02.w01.c01\n".as_bytes(),
            &unit(),
            &unit(),
        )
        .expect("parse");
        assert_eq!(p.good.len(), 1);
        assert_eq!(p.bad[0].line, 3);
    }
}
