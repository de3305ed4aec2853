//! Cells as a spreadsheet shows them: formula neutralising, display values, and private output files.

#[allow(unused_imports)]
use super::*;

/// A cell as written to a CSV meant for a spreadsheet: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading `'`, so Excel shows it as text instead of running it as a formula.
/// The import removes that `'` again ([`strip_neutraliser`]).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_LEAD) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Undoes [`neutralise`]: a cell of `'` followed by a formula character loses the `'`.
pub fn strip_neutraliser(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_LEAD) => rest,
        _ => cell,
    }
}

/// Creates (or truncates) a file for member data written for the clerk (an export, the rejected rows of
/// an import), readable and writable by its owner only on Unix.
pub fn create_private_file(path: &std::path::Path) -> io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// A stored value as a spreadsheet cell for the clerk: dates as `DD/MM/YYYY`, sex, status and sector by
/// their label in the current language; other values as stored. The import reads all of these back.
pub fn display_cell(f: Field, v: &str) -> String {
    use rollmesh_model::{Sector, Sex, Status};
    let pick = |vi: &str, en: &str| crate::i18n::pick(vi, en).to_string();
    let shown = match f.kind() {
        FieldKind::Date => parse_date(v).map(|d| d.format("%d/%m/%Y").to_string()),
        FieldKind::Sex => Sex::parse(v).map(|s| match s {
            Sex::Male => pick("Nam", "Male"),
            Sex::Female => pick("Nữ", "Female"),
        }),
        FieldKind::Status => Status::parse(v).map(|s| pick(s.label_vi(), s.label_en())),
        FieldKind::Sector => Sector::parse(v).map(|s| pick(s.label_vi(), s.label_en())),
        _ => None,
    };
    shown.unwrap_or_else(|| v.to_string())
}
