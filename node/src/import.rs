//! Importing members from a file (CSV in any encoding Excel writes, or an `.xlsx` workbook): rows read,
//! validated, signed and committed durably in chunks — for `member import` on a node the CLI opened and
//! for the `member.import` request a running node serves.
//!
//! The file may come straight from a clerk's Excel (UTF-8 with or without BOM, UTF-16, Windows-1258;
//! comma, semicolon or tab separated; see `csv_import`). A row that repeats a member already in the store
//! or an earlier row is refused as a duplicate, so re-running an interrupted import adds only what is
//! missing; a row with an `id` (a file from `member export`) updates that member. Every refused row goes
//! to `<name>.rejected.csv` beside the input, with its reason, for the clerk to fix and import again.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rollmesh_model::DossierEdit;
use serde_json::json;

use crate::render;
use rollmesh_engine::csv_import::{self, BadRow, DupIndex, Origin, Row};
use rollmesh_engine::msg;
use rollmesh_engine::Node;

/// What an import did (or, in a dry run, would do).
#[derive(Default)]
pub(crate) struct Outcome {
    /// New members committed (a dry run: rows that would create one).
    created: usize,
    /// Members changed by a row with their id (a dry run: rows that would change one).
    updated: usize,
    /// Rows with an id that hold what the member already has.
    unchanged: usize,
    /// Refused rows, in the order they were refused (their cell values dropped once written out).
    bad: Vec<BadRow>,
    /// Where the refused rows were written.
    rejected_file: Option<PathBuf>,
    /// Each durable commit of new members: first line, last line, rows, members committed so far.
    commits: Vec<(u64, u64, usize, usize)>,
}

/// Imports `path` on an open node without progress output; returns the summary (as `member.import`
/// replies it) and the rejected-rows file, if rows were refused.
pub(crate) fn import_summary(
    node: &Node,
    path: &Path,
    label: &str,
    dry_run: bool,
) -> Result<(serde_json::Value, Option<PathBuf>)> {
    let out = run_import(node, path, label, dry_run, 2000, false, true)?;
    Ok((outcome_json(&out), out.rejected_file.clone()))
}

/// Reads `path` (CSV in any of the encodings Excel writes, or an `.xlsx` workbook) and imports it;
/// `label` names the file in messages and the audit log (the clerk's own file name, when `path` is a
/// temporary copy).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_import(
    node: &Node,
    path: &Path,
    label: &str,
    dry_run: bool,
    batch: usize,
    json: bool,
    quiet: bool,
) -> Result<Outcome> {
    let raw = std::fs::read(path).with_context(|| label.to_string())?;
    let bytes = if csv_import::is_xlsx(&raw) {
        csv_import::xlsx_to_csv(&raw).map_err(|e| {
            let p = label;
            anyhow::anyhow!(msg!(
                "{p}: không đọc được sổ tính Excel ({e})",
                "{p}: cannot read the Excel workbook ({e})"
            ))
        })?
    } else {
        raw
    };
    let size = bytes.len() as u64;
    let encoding = csv_import::detect_encoding(std::io::Cursor::new(&bytes))
        .with_context(|| label.to_string())?;
    let reader = csv_import::Reader::new(
        std::io::Cursor::new(bytes),
        encoding,
        node.unit(),
        node.unit(),
    )?
    .with_index(known_members(node)?)
    .with_tree(node.org_tree()?);
    let mut out = Outcome::default();
    if dry_run {
        check_rows(node, reader, &mut out)?;
    } else {
        let rejected = RejectedFile::new(path, reader.header(), reader.delimiter());
        write_rows(
            node, reader, rejected, label, size, batch, json, quiet, &mut out,
        )?;
    }
    Ok(out)
}

/// The summary of an import as JSON (what `--json` prints and the API replies).
pub(crate) fn outcome_json(out: &Outcome) -> serde_json::Value {
    json!({"created": out.created, "updated": out.updated, "unchanged": out.unchanged,
        "bad": out.bad.iter().map(bad_json).collect::<Vec<_>>(),
        "rejected_file": out.rejected_file.as_ref().map(|p| p.display().to_string()),
        "commits": out.commits.iter().map(|(first, last, rows, total)| json!({"first_line": first,
            "last_line": last, "rows": rows, "total_committed": total})).collect::<Vec<_>>()})
}

/// One durable commit of an import, as the clerk's terminal (or `--json`) shows it.
pub(crate) fn print_commit(
    o: &mut impl Write,
    first: u64,
    last: u64,
    rows: usize,
    committed: usize,
    json: bool,
) -> std::io::Result<()> {
    if json {
        writeln!(
            o,
            "{}",
            json!({"event": "committed", "first_line": first, "last_line": last, "rows": rows, "total_committed": committed})
        )
    } else {
        writeln!(
            o,
            "{}",
            msg!(
                "Đã ghi bền vững các dòng {first}–{last} ({committed} đảng viên đến nay)",
                "Durably committed lines {first}–{last} ({committed} members so far)"
            )
        )
    }
}

/// Every member of the node's scope, for recognising duplicates and the ids of updates. The store has
/// no index by citizen id, dossier or card number, so this reads every projection once per import
/// (nothing when the store is empty): one at a time, after listing only ids and units, because
/// `Store::list` would hold all of them at once (about 1 GB at a city's 470,000 members, against about
/// 100 bytes a member for the index).
fn known_members(node: &Node) -> Result<DupIndex> {
    let mut index = DupIndex::new();
    if node.store().member_count() == 0 {
        return Ok(index);
    }
    for (id, unit, _) in node.store().states()? {
        if !unit
            .as_ref()
            .is_some_and(|us| us.iter().any(|u| node.unit().covers(u)))
        {
            continue;
        }
        if let Some(rec) = node.store().record(&id)? {
            index.add_member(&rec);
        }
    }
    Ok(index)
}

/// The fields of an update row that differ from what the member holds. Empty cells change nothing.
fn changed_fields(node: &Node, row: &Row, id: &rollmesh_model::MemberId) -> Result<DossierEdit> {
    let rec = node.record(id)?;
    let set: BTreeMap<_, _> = row
        .fields
        .iter()
        .filter(|(f, v)| rec.get(**f) != Some(v.as_str()))
        .map(|(f, v)| (*f, v.clone()))
        .collect();
    Ok(DossierEdit {
        set,
        ..DossierEdit::default()
    })
}

/// Applies an update row; `Ok(false)` when it changes nothing, `Err` with the reason when refused.
fn apply_update(node: &Node, row: &Row, dry_run: bool) -> std::result::Result<bool, String> {
    let Some(id) = row.id else {
        return Ok(false);
    };
    let explain = |e: anyhow::Error| render::explain(&e);
    let edit = changed_fields(node, row, &id).map_err(explain)?;
    if edit.is_empty() {
        return Ok(false);
    }
    if dry_run {
        return Ok(true);
    }
    node.edit_member(id, &edit)
        .map_err(|e| explain(anyhow::Error::new(e)))
}

/// Counts an update row's outcome; a refused update becomes a bad row (returned for the rejected file).
fn count_update(node: &Node, row: Row, dry_run: bool, out: &mut Outcome) -> Option<BadRow> {
    match apply_update(node, &row, dry_run) {
        Ok(true) => out.updated += 1,
        Ok(false) => out.unchanged += 1,
        Err(reason) => {
            return Some(BadRow {
                line: row.line,
                reason,
                duplicate: None,
                values: row.values,
            })
        }
    }
    None
}

/// A dry run: reads and validates every row and works out each update, writing nothing.
fn check_rows<R: std::io::Read>(
    node: &Node,
    mut reader: csv_import::Reader<R>,
    out: &mut Outcome,
) -> Result<()> {
    while let Some(row) = reader.next_row() {
        match row {
            Ok(r) if r.id.is_some() => {
                if let Some(mut b) = count_update(node, r, true, out) {
                    b.values = Vec::new();
                    out.bad.push(b);
                }
            }
            Ok(_) => out.created += 1,
            Err(mut b) => {
                b.values = Vec::new();
                out.bad.push(b);
            }
        }
    }
    Ok(())
}

/// The rejected-rows file, `<name>.rejected.csv` beside the input: UTF-8 with a BOM (Excel opens it as
/// such), the input's separator, a reason column then the input's header, and each refused row's cells
/// as read. Written to `<name>.rejected.csv.part` and renamed when the import ends; not created at all
/// when no row is refused. Private to its owner (it holds member data).
pub(crate) struct RejectedFile {
    path: PathBuf,
    part: PathBuf,
    header: Vec<String>,
    delimiter: u8,
    /// The added first column's title.
    label: String,
    writer: Option<csv::Writer<std::io::BufWriter<std::fs::File>>>,
}

impl RejectedFile {
    pub(crate) fn new(input: &Path, header: &[String], delimiter: u8) -> Self {
        let mut name = input
            .file_stem()
            .map(|s| s.to_os_string())
            .unwrap_or_else(|| "import".into());
        name.push(".rejected.csv");
        let path = input.with_file_name(&name);
        name.push(".part");
        RejectedFile {
            part: input.with_file_name(name),
            path,
            header: header.to_vec(),
            delimiter,
            label: msg!("Lý do", "Reason"),
            writer: None,
        }
    }

    /// Titles the added reason column `label` (a sheet with a reason column of its own needs another).
    pub(crate) fn labelled(mut self, label: String) -> Self {
        self.label = label;
        self
    }

    pub(crate) fn add(&mut self, row: &BadRow) -> Result<()> {
        let w = match &mut self.writer {
            Some(w) => w,
            None => {
                let file = csv_import::create_private_file(&self.part)
                    .with_context(|| self.part.display().to_string())?;
                let mut buf = std::io::BufWriter::new(file);
                buf.write_all(b"\xEF\xBB\xBF")?;
                let mut w = csv::WriterBuilder::new()
                    .flexible(true)
                    .delimiter(self.delimiter)
                    .from_writer(buf);
                let head = std::iter::once(self.label.as_str())
                    .chain(self.header.iter().map(String::as_str))
                    .map(|c| csv_import::neutralise(c).into_owned());
                w.write_record(head)?;
                self.writer.insert(w)
            }
        };
        let cells = std::iter::once(row.reason.as_str())
            .chain(row.values.iter().map(String::as_str))
            .map(|c| csv_import::neutralise(c).into_owned());
        w.write_record(cells)?;
        Ok(())
    }

    /// Closes the file and gives it its final name; `None` when no row was refused.
    pub(crate) fn finish(mut self) -> Result<Option<PathBuf>> {
        let Some(w) = self.writer.take() else {
            return Ok(None);
        };
        let file = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
        file.sync_all()?;
        std::fs::rename(&self.part, &self.path).with_context(|| self.path.display().to_string())?;
        Ok(Some(self.path.clone()))
    }
}

impl Drop for RejectedFile {
    fn drop(&mut self) {
        // An import that failed part-way leaves no half-written file behind.
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// Writes the valid rows with a progress bar, reporting each durable commit on stdout, and the refused
/// ones to `rejected`; fills `out`.
#[allow(clippy::too_many_arguments)]
fn write_rows<R: std::io::Read + Send>(
    node: &Node,
    reader: csv_import::Reader<R>,
    mut rejected: RejectedFile,
    label: &str,
    size: u64,
    batch: usize,
    json: bool,
    quiet: bool,
    out: &mut Outcome,
) -> Result<()> {
    let stdout = std::io::stdout();
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(size)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {percent}% {msg} ETA {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut on_chunk = |chunk: Chunk| -> Result<()> {
        let mut refused = chunk.bad;
        for row in chunk.updates {
            refused.extend(count_update(node, row, false, out));
        }
        for mut b in refused {
            rejected.add(&b)?;
            b.values = Vec::new();
            out.bad.push(b);
        }
        bar.set_position(chunk.read);
        if chunk.creates.is_empty() {
            return Ok(());
        }
        out.created += chunk.creates.len();
        let committed = out.created;
        let (first, last) = (
            chunk.creates[0].line,
            chunk.creates[chunk.creates.len() - 1].line,
        );
        out.commits
            .push((first, last, chunk.creates.len(), committed));
        if quiet {
            return Ok(());
        }
        bar.set_message(msg!("{committed} đảng viên", "{committed} members"));
        let mut o = stdout.lock();
        print_commit(&mut o, first, last, chunk.creates.len(), committed, json)?;
        o.flush()?;
        Ok(())
    };
    pipeline(node, reader, batch, &mut on_chunk)?;
    bar.finish_and_clear();
    out.rejected_file = rejected.finish()?;
    let (created, updated, refused) = (out.created, out.updated, out.bad.len());
    node.audit(
        "member.import",
        label,
        &format!("{created} records, {updated} updated, {refused} rejected"),
    )?;
    Ok(())
}

/// Rows read together: new members (committed in one durable write), updates and refused rows.
#[derive(Default)]
struct Chunk {
    creates: Vec<Row>,
    updates: Vec<Row>,
    bad: Vec<BadRow>,
    /// Bytes of the file read by then.
    read: u64,
}

impl Chunk {
    fn len(&self) -> usize {
        self.creates.len() + self.updates.len() + self.bad.len()
    }
}

/// Three stages, so the serial parts overlap: one thread reads and validates rows, one builds and
/// signs each chunk's new dossiers (on both cores), and this one writes them durably and then the
/// chunk's updates, calling `on_chunk` after each chunk's creations are durable. An error stops the
/// writer, which closes the channels and so stops the other two at their next send.
fn pipeline<R: std::io::Read + Send>(
    node: &Node,
    mut reader: csv_import::Reader<R>,
    batch: usize,
    on_chunk: &mut dyn FnMut(Chunk) -> Result<()>,
) -> Result<()> {
    let (rows_tx, rows_rx) = std::sync::mpsc::sync_channel::<Chunk>(2);
    let (built_tx, built_rx) = std::sync::mpsc::sync_channel(1);
    // Worker threads carry neither the request's language nor its person: read them here.
    let lang = if rollmesh_engine::i18n::is_en() {
        rollmesh_engine::i18n::Lang::En
    } else {
        rollmesh_engine::i18n::Lang::Vi
    };
    std::thread::scope(|scope| -> Result<()> {
        let parser = scope.spawn(move || {
            rollmesh_engine::i18n::with_lang(lang, || {
                let mut chunk = Chunk::default();
                while let Some(row) = reader.next_row() {
                    match row {
                        Ok(r) if r.id.is_some() => chunk.updates.push(r),
                        Ok(r) => chunk.creates.push(r),
                        Err(b) => chunk.bad.push(b),
                    }
                    if chunk.len() >= batch {
                        chunk.read = reader.bytes_read();
                        if rows_tx.send(std::mem::take(&mut chunk)).is_err() {
                            return;
                        }
                    }
                }
                if chunk.len() > 0 {
                    chunk.read = reader.bytes_read();
                    let _ = rows_tx.send(chunk);
                }
            })
        });
        let by = rollmesh_engine::credentials::acting_person();
        let builder = scope.spawn(move || {
            use rayon::prelude::*;
            for chunk in rows_rx {
                let built = chunk
                    .creates
                    .par_iter()
                    .map(|row| {
                        let (_, vc, doc) =
                            node.build_member_by(row.fields.clone(), Vec::new(), &by)?;
                        Ok((vc, doc))
                    })
                    .collect::<Result<Vec<_>>>();
                let failed = built.is_err();
                if built_tx.send((chunk, built)).is_err() || failed {
                    break;
                }
            }
        });
        let written = built_rx.into_iter().try_for_each(|(chunk, built)| {
            let built = built?;
            if !built.is_empty() {
                node.commit_created(built)?;
            }
            on_chunk(chunk)
        });
        let built = builder.join();
        let parsed = parser.join();
        written?;
        built.map_err(|_| anyhow::anyhow!("the import's builder thread failed"))?;
        parsed.map_err(|_| anyhow::anyhow!("the import's reader thread failed"))
    })
}

fn bad_json(b: &BadRow) -> serde_json::Value {
    let mut v = json!({"line": b.line, "reason": b.reason});
    match b.duplicate.map(|d| d.of) {
        Some(Origin::Member(id)) => v["duplicate_of"] = json!(id.to_string()),
        Some(Origin::Line(n)) => v["duplicate_of_line"] = json!(n),
        None => {}
    }
    v
}
