//! The header row (which column is which field, whatever the clerk's Excel called it) and where each
//! record's line starts.

#[allow(unused_imports)]
use super::*;

/// What a header cell names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// A dossier field.
    Field(Field),
    /// The member id (`id`, `Mã`): the row updates that member.
    Id,
    /// A column to skip: row numbers (`STT`), an unnamed column, the reason column of a rejected-rows file.
    Ignore,
}

/// A header cell folded for matching: no diacritics, lower case, punctuation as spaces, a trailing
/// parenthesised hint such as `(dd/mm/yyyy)` dropped.
pub(super) fn header_form(name: &str) -> String {
    let mut s = name.trim().trim_start_matches('\u{feff}').trim();
    if s.ends_with(')') {
        if let Some(open) = s.rfind('(') {
            if open > 0 {
                s = &s[..open];
            }
        }
    }
    let folded = text::fold(s);
    let spaced: String = folded
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Header variants a clerk's sheet commonly uses, beyond the field keys and labels (in [`header_form`]).
pub(super) const HEADER_VARIANTS: &[(&str, Field)] = &[
    ("ho ten", Field::FullName),
    ("ho va ten", Field::FullName),
    ("ngay thang nam sinh", Field::DateOfBirth),
    ("nam nu", Field::Sex),
    ("cccd", Field::CitizenId),
    ("so cccd", Field::CitizenId),
    ("cmnd", Field::CitizenId),
    ("so cmnd", Field::CitizenId),
    ("cmnd cccd", Field::CitizenId),
    ("so cmnd cccd", Field::CitizenId),
    ("so can cuoc", Field::CitizenId),
    ("so can cuoc cong dan", Field::CitizenId),
    ("so dinh danh", Field::CitizenId),
    ("so dinh danh ca nhan", Field::CitizenId),
    ("so ll", Field::DossierNo),
    ("so the", Field::CardNo),
    ("so the dang", Field::CardNo),
    ("sdt", Field::Phone),
    ("dt", Field::Phone),
    ("so dien thoai", Field::Phone),
    ("ngay ket nap", Field::AdmissionDate),
    ("ngay vao dang chinh thuc", Field::OfficialDate),
    ("noi o", Field::CurrentResidence),
    ("cho o hien nay", Field::CurrentResidence),
    ("dia chi", Field::CurrentResidence),
    ("thuong tru", Field::PermanentResidence),
    ("ho khau thuong tru", Field::PermanentResidence),
    ("trinh do van hoa", Field::EduGeneral),
    ("trinh do chuyen mon", Field::EduProfessional),
    ("trinh do ly luan chinh tri", Field::EduPolitical),
    ("trinh do ngoai ngu", Field::EduLanguage),
];

/// Header names of the member-id column.
pub(super) const ID_HEADERS: &[&str] = &["id", "ma", "ma dang vien", "ma ho so", "member id"];

/// Header names of columns to skip.
pub(super) const IGNORED_HEADERS: &[&str] = &[
    "",
    "stt",
    "tt",
    "so tt",
    "so thu tu",
    "ly do",
    "ly do tu choi",
    "reason",
];

/// What a header cell names; `None` for an unknown column.
pub fn column(name: &str) -> Option<Column> {
    let stripped = name.trim().trim_start_matches('\u{feff}').trim();
    if let Ok(f) = Field::from_key(stripped) {
        return Some(Column::Field(f));
    }
    let form = header_form(stripped);
    if IGNORED_HEADERS.contains(&form.as_str()) {
        return Some(Column::Ignore);
    }
    if ID_HEADERS.contains(&form.as_str()) {
        return Some(Column::Id);
    }
    if let Some(f) = Field::ALL
        .iter()
        .copied()
        .find(|f| header_form(f.label_vi()) == form || header_form(f.label_en()) == form)
    {
        return Some(Column::Field(f));
    }
    HEADER_VARIANTS
        .iter()
        .find(|(v, _)| *v == form)
        .map(|(_, f)| Column::Field(*f))
}

/// Passes text through and remembers where its recent line breaks are, so the line a record starts on
/// follows from the byte offset the CSV reader reports (its own line count is off for CRLF files). A
/// line ends at `\n`, at `\r\n` or at a lone `\r` (old Mac files).
pub(super) struct LineTracker<R> {
    pub(super) inner: R,
    /// Bytes passed through so far.
    offset: u64,
    /// Offsets and lengths (1, or 2 for `\r\n`) of the line breaks not yet behind the last record asked
    /// about.
    breaks: std::collections::VecDeque<(u64, u64)>,
    /// Line breaks already dropped from `breaks`.
    before: u64,
    /// The last byte passed through was `\r`.
    after_cr: bool,
}

impl<R> LineTracker<R> {
    pub(super) fn new(inner: R) -> Self {
        LineTracker {
            inner,
            offset: 0,
            breaks: std::collections::VecDeque::new(),
            before: 0,
            after_cr: false,
        }
    }

    /// The 1-based line of the record the CSV reader places at byte `at` (where it starts looking: empty
    /// lines there are skipped); `at` must not decrease from one call to the next.
    pub(super) fn line_at(&mut self, mut at: u64) -> u64 {
        while let Some(&(b, len)) = self.breaks.front() {
            if b > at {
                break;
            }
            if b + len > at {
                // The reader stopped at this break (or inside a `\r\n`): the record starts after it.
                at = b + len;
            }
            self.breaks.pop_front();
            self.before += 1;
        }
        self.before + 1
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, b) in buf[..n].iter().enumerate() {
            let at = self.offset + i as u64;
            match b {
                b'\r' => self.breaks.push_back((at, 1)),
                b'\n' if self.after_cr => {
                    if let Some(last) = self.breaks.back_mut() {
                        last.1 = 2;
                    }
                }
                b'\n' => self.breaks.push_back((at, 1)),
                _ => {}
            }
            self.after_cr = *b == b'\r';
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// Reads the first line of the decoded text (a newline inside quotes does not end it), at most 1 MiB.
pub(super) fn header_line<R: Read>(input: &mut Decoded<R>) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut quoted = false;
    let mut b = [0u8; 1];
    while line.len() < 1 << 20 {
        if input.read(&mut b)? == 0 {
            break;
        }
        line.push(b[0]);
        match b[0] {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ => {}
        }
    }
    Ok(line)
}

pub(super) fn split_header(line: &[u8], delimiter: u8) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(line);
    let mut rec = csv::ByteRecord::new();
    match rdr.read_byte_record(&mut rec) {
        Ok(true) => rec
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect(),
        _ => Vec::new(),
    }
}

/// The separator that splits the header into the most known columns: `,` then `;` then tab on a tie.
pub(super) fn detect_delimiter(line: &[u8]) -> u8 {
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t'] {
        let known = split_header(line, d)
            .iter()
            .filter(|c| matches!(column(c), Some(Column::Field(_) | Column::Id)))
            .count();
        if known > best.1 {
            best = (d, known);
        }
    }
    best.0
}
