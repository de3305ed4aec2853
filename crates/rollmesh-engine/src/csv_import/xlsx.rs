//! Excel workbooks both ways, with kept crates: `rust_xlsxwriter` writes a member sheet (text cells for
//! phone and citizen id so leading zeros survive, real dates shown DD/MM/YYYY, a frozen bold header), and
//! `calamine` reads the first sheet of an `.xlsx` the clerk saved back, as CSV text for the same reader
//! a CSV file goes through (so headers, validation, duplicates and line numbers behave the same: a
//! row's "line" is its row number in the sheet).

use calamine::{DataRef, Reader as _, Xlsx};
use chrono::NaiveDate;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

/// One cell of a sheet to write.
pub enum XlsxCell {
    /// Text, written as a string cell (never a formula, never a number).
    Text(String),
    /// A date, written as an Excel date formatted DD/MM/YYYY.
    Date(NaiveDate),
}

/// True when `bytes` are a zip archive (an `.xlsx` workbook) rather than text.
pub fn is_xlsx(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// A workbook with one sheet named `sheet`: a bold header row (frozen) and the rows.
pub fn write_xlsx(
    sheet: &str,
    header: &[String],
    rows: &[Vec<XlsxCell>],
) -> Result<Vec<u8>, String> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let text = Format::new().set_num_format("@");
    let ws = wb.add_worksheet();
    ws.set_name(sheet).map_err(|e| e.to_string())?;
    for (c, h) in header.iter().enumerate() {
        let c = u16::try_from(c).map_err(|e| e.to_string())?;
        ws.write_string_with_format(0, c, h, &bold)
            .map_err(|e| e.to_string())?;
        ws.set_column_width(c, 16).map_err(|e| e.to_string())?;
    }
    ws.set_freeze_panes(1, 0).map_err(|e| e.to_string())?;
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|e| e.to_string())?;
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).map_err(|e| e.to_string())?;
            match cell {
                XlsxCell::Text(t) if t.is_empty() => {}
                XlsxCell::Text(t) => {
                    ws.write_string_with_format(r, c, t, &text)
                        .map_err(|e| e.to_string())?;
                }
                XlsxCell::Date(d) => {
                    let dt = ExcelDateTime::parse_from_str(&d.format("%Y-%m-%d").to_string())
                        .map_err(|e| e.to_string())?;
                    ws.write_datetime_with_format(r, c, &dt, &date)
                        .map_err(|e| e.to_string())?;
                }
            }
        }
    }
    wb.save_to_buffer().map_err(|e| e.to_string())
}

/// The largest workbook accepted, packed and unpacked: a member sheet of a whole city is a few tens of
/// megabytes; anything far beyond is refused before it is unpacked (a small zip can unpack to gigabytes).
pub const MAX_XLSX_BYTES: u64 = 64 << 20;
/// The most unpacked bytes of all the workbook's parts together.
pub const MAX_XLSX_UNPACKED: u64 = 256 << 20;
/// The most columns a member sheet may use (about 40 are fields).
pub const MAX_XLSX_COLUMNS: u32 = 256;
/// The longest text a cell may hold (Excel's own limit).
pub const MAX_CELL_CHARS: usize = 32_767;

/// A cell as the clerk sees it: text as is, whole numbers without `.0`, dates DD/MM/YYYY.
fn cell_text(d: &DataRef<'_>) -> String {
    match d {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) => excel_day(dt.as_f64())
            .map(|d| d.format("%d/%m/%Y").to_string())
            .unwrap_or_else(|| dt.as_f64().to_string()),
        DataRef::DateTimeIso(s) => s.get(..10).unwrap_or(s).to_string(),
        DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => format!("#{e:?}"),
    }
}

/// The day of an Excel serial date (days since 30/12/1899, the 1900 date system Excel writes).
fn excel_day(serial: f64) -> Option<NaiveDate> {
    if !(0.0..3_000_000.0).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?
        .checked_add_days(chrono::Days::new(serial.floor() as u64))
}

/// Refuses a workbook whose parts would unpack beyond [`MAX_XLSX_UNPACKED`] (by the sizes the archive
/// declares; the reader below also bounds what it keeps).
fn check_sizes(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() as u64 > MAX_XLSX_BYTES {
        return Err(format!(
            "the workbook is larger than {} MB",
            MAX_XLSX_BYTES >> 20
        ));
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|e| e.to_string())?;
        total = total.saturating_add(f.size());
    }
    if total > MAX_XLSX_UNPACKED {
        return Err(format!(
            "the workbook unpacks to more than {} MB",
            MAX_XLSX_UNPACKED >> 20
        ));
    }
    Ok(())
}

/// The first sheet of an `.xlsx` as UTF-8 CSV (comma separated), one record per sheet row from the first
/// row (row numbers become line numbers, blank rows included). Cells are read one at a time (the sheet's
/// declared size is never allocated): a cell beyond [`MAX_XLSX_COLUMNS`] or longer than
/// [`MAX_CELL_CHARS`] refuses the file.
pub fn xlsx_to_csv(bytes: &[u8]) -> Result<Vec<u8>, String> {
    check_sizes(bytes)?;
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let name = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| "the workbook has no sheet".to_string())?;
    let mut cells = wb
        .worksheet_cells_reader(&name)
        .map_err(|e| e.to_string())?;
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut row_no: u32 = 0;
    let mut row: Vec<String> = Vec::new();
    let flush = |w: &mut csv::Writer<Vec<u8>>, row: &mut Vec<String>| -> Result<(), String> {
        if row.iter().all(String::is_empty) {
            w.write_record([""]).map_err(|e| e.to_string())?;
        } else {
            w.write_record(row.iter()).map_err(|e| e.to_string())?;
        }
        row.clear();
        Ok(())
    };
    while let Some(cell) = cells.next_cell().map_err(|e| e.to_string())? {
        let (r, c) = cell.get_position();
        if c >= MAX_XLSX_COLUMNS {
            return Err(format!(
                "a cell in column {} (at most {MAX_XLSX_COLUMNS} columns)",
                c + 1
            ));
        }
        if r < row_no {
            return Err("the sheet's cells are out of order".into());
        }
        // Rows before this cell's (blank ones included) are complete.
        while row_no < r {
            flush(&mut w, &mut row)?;
            row_no += 1;
            if row_no > 2_000_000 {
                return Err("more than 2,000,000 rows".into());
            }
        }
        let text = cell_text(cell.get_value());
        if text.chars().count() > MAX_CELL_CHARS {
            return Err(format!(
                "a cell in row {} holds more than {MAX_CELL_CHARS} characters",
                r + 1
            ));
        }
        let c = c as usize;
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = text;
    }
    if !row.is_empty() {
        flush(&mut w, &mut row)?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_sheet_reads_back_with_text_zeros_and_dates() {
        let header = vec![
            "Họ và tên".to_string(),
            "Số CCCD".into(),
            "Ngày sinh".into(),
        ];
        let rows = vec![vec![
            XlsxCell::Text("Nguyễn Văn An".into()),
            XlsxCell::Text("001090012345".into()),
            XlsxCell::Date(NaiveDate::from_ymd_opt(1990, 5, 1).unwrap()),
        ]];
        let bytes = write_xlsx("Đảng viên", &header, &rows).unwrap();
        assert!(is_xlsx(&bytes));
        let csv = String::from_utf8(xlsx_to_csv(&bytes).unwrap()).unwrap();
        assert_eq!(
            csv,
            "Họ và tên,Số CCCD,Ngày sinh\nNguyễn Văn An,001090012345,01/05/1990\n"
        );
    }

    #[test]
    fn a_sheet_declaring_a_huge_range_is_read_cell_by_cell_and_refused() {
        // Two cells: A1 and the last cell Excel allows. Allocating the range would take gigabytes.
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "Họ và tên").unwrap();
        ws.write_string(1_048_575, 16_383, "x").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let e = xlsx_to_csv(&bytes).unwrap_err();
        assert!(e.contains("column 16384"), "{e}");
    }

    #[test]
    fn a_damaged_workbook_is_an_error_not_a_panic() {
        assert!(xlsx_to_csv(b"PK\x03\x04 not really a zip").is_err());
        assert!(xlsx_to_csv(b"").is_err());
    }
}
