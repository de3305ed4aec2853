//! Reading a small sheet that is not a member register (a month's dues, a year's ratings): the same
//! encoding detection and line numbering as the member import, the separator chosen by the caller's
//! idea of which header cells it knows, and every row returned as text cells.

#[allow(unused_imports)]
use super::*;

/// A sheet as read: its header and its non-empty rows with the line each starts on.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    /// The header cells.
    pub header: Vec<String>,
    /// The separator found in the header.
    pub delimiter: u8,
    /// `(line, cells)` of every row that has a non-blank cell.
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Reads `input` (UTF-8 with or without BOM, UTF-16 with BOM, or Windows-1258) as a sheet whose header
/// cells `known` recognises; the separator (`,`, `;` or tab) is the one that splits the header into the
/// most known cells. Unreadable rows come back as rows of no cells, so the caller refuses them by line.
pub fn read_sheet(input: &[u8], known: impl Fn(&str) -> bool) -> Result<Sheet, CsvError> {
    let encoding = detect_encoding(input).map_err(|e| CsvError::Header(e.to_string()))?;
    let mut decoded = Decoded::new(input, encoding);
    let line = header_line(&mut decoded).map_err(|e| CsvError::Header(e.to_string()))?;
    let mut delimiter = (b',', 0usize);
    for d in [b',', b';', b'\t'] {
        let n = split_header(&line, d).iter().filter(|c| known(c)).count();
        if n > delimiter.1 {
            delimiter = (d, n);
        }
    }
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .delimiter(delimiter.0)
        .from_reader(LineTracker::new(io::Cursor::new(line).chain(decoded)));
    let header: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| CsvError::Header(e.to_string()))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let mut sheet = Sheet {
        header,
        delimiter: delimiter.0,
        rows: Vec::new(),
    };
    let mut record = csv::ByteRecord::new();
    loop {
        let hint = rdr.position().byte();
        let ok = rdr.read_byte_record(&mut record);
        let at = record.position().map(|p| p.byte()).unwrap_or(hint);
        match ok {
            Ok(false) => break,
            Ok(true) => {
                let cells: Vec<String> = record
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).trim().to_string())
                    .collect();
                let line = rdr.get_mut().line_at(at);
                if cells.iter().any(|c| !c.is_empty()) {
                    sheet.rows.push((line, cells));
                }
            }
            Err(_) => {
                let line = rdr.get_mut().line_at(hint);
                // The reader cannot go on past a decoding error: the rest of the file is refused with it.
                sheet.rows.push((line, Vec::new()));
                break;
            }
        }
    }
    Ok(sheet)
}
