//! Excel workbooks both ways, with kept crates: `rust_xlsxwriter` writes a member sheet (text cells for
//! phone and citizen id so leading zeros survive, real dates shown DD/MM/YYYY, a frozen bold header), and
//! `calamine` reads the first sheet of an `.xlsx` the clerk saved back, as CSV text for the same reader
//! a CSV file goes through (so headers, validation, duplicates and line numbers behave the same: a
//! row's "line" is its row number in the sheet).

use calamine::{Data, Reader as _};
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

/// A cell as the clerk sees it: text as is, whole numbers without `.0`, dates DD/MM/YYYY.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => excel_day(dt.as_f64())
            .map(|d| d.format("%d/%m/%Y").to_string())
            .unwrap_or_else(|| dt.to_string()),
        Data::DateTimeIso(s) => s.get(..10).unwrap_or(s).to_string(),
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
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

/// The first sheet of an `.xlsx` as UTF-8 CSV (comma separated), one record per sheet row from the first
/// row (row numbers become line numbers, blank rows included).
pub fn xlsx_to_csv(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .map_err(|e| e.to_string())?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| "the workbook has no sheet".to_string())?
        .map_err(|e| e.to_string())?;
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    // Rows above the used range (a sheet starting lower down) keep their numbers.
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    for _ in 0..first_row {
        w.write_record([""]).map_err(|e| e.to_string())?;
    }
    for row in range.rows() {
        let mut cells: Vec<String> = (0..first_col).map(|_| String::new()).collect();
        cells.extend(row.iter().map(cell_text));
        if cells.iter().all(String::is_empty) {
            w.write_record([""]).map_err(|e| e.to_string())?;
        } else {
            w.write_record(&cells).map_err(|e| e.to_string())?;
        }
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
    fn a_damaged_workbook_is_an_error_not_a_panic() {
        assert!(xlsx_to_csv(b"PK\x03\x04 not really a zip").is_err());
        assert!(xlsx_to_csv(b"").is_err());
    }
}
