//! `member import`: members from a CSV file, read, signed and committed durably in chunks.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::{open, DataDir, EXIT_ROWS_REJECTED};
use crate::render::print_json;
use rollmesh_engine::csv_import;
use rollmesh_engine::msg;
use rollmesh_engine::Node;

/// `member import`: validates every row; unless `dry_run`, writes the valid ones in chunks of `batch`.
/// Exits 3 if some rows were rejected.
pub(super) fn import(
    path: &Path,
    dry_run: bool,
    batch: usize,
    data: &DataDir,
    json: bool,
) -> Result<u8> {
    let node = open(data)?;
    let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = csv_import::Reader::new(std::io::BufReader::new(file), node.unit(), node.unit())?;
    let mut committed = 0usize;
    let (bad, valid) = if dry_run {
        check_rows(reader)
    } else {
        write_rows(&node, reader, path, size, batch, json, &mut committed)?
    };
    print_summary(&bad, valid, committed, dry_run, json);
    Ok(if !bad.is_empty() {
        EXIT_ROWS_REJECTED
    } else {
        0
    })
}

/// A dry run: reads and validates every row, writes nothing; returns the bad rows and the valid count.
fn check_rows<R: std::io::Read>(
    mut reader: csv_import::Reader<R>,
) -> (Vec<csv_import::BadRow>, usize) {
    let (mut bad, mut valid) = (Vec::new(), 0usize);
    while let Some(row) = reader.next_row() {
        match row {
            Ok(_) => valid += 1,
            Err(b) => bad.push(b),
        }
    }
    (bad, valid)
}

/// Writes the valid rows with a progress bar, reporting each durable commit on stdout; counts the
/// committed members in `committed` and returns the bad rows and the valid count.
fn write_rows<R: std::io::Read + Send>(
    node: &Node,
    reader: csv_import::Reader<R>,
    path: &Path,
    size: u64,
    batch: usize,
    json: bool,
    committed: &mut usize,
) -> Result<(Vec<csv_import::BadRow>, usize)> {
    let out = std::io::stdout();
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {percent}% {msg} ETA {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = |chunk: &[csv_import::Row], read: u64| -> Result<()> {
        *committed += chunk.len();
        let committed = *committed;
        bar.set_position(read);
        bar.set_message(msg!("{committed} đảng viên", "{committed} members"));
        let (first, last) = (chunk[0].line, chunk[chunk.len() - 1].line);
        let mut o = out.lock();
        if json {
            writeln!(
                o,
                "{}",
                json!({"event": "committed", "first_line": first, "last_line": last, "rows": chunk.len(), "total_committed": committed})
            )?;
        } else {
            writeln!(
                o,
                "{}",
                msg!(
                    "Đã ghi bền vững các dòng {first}–{last} ({committed} đảng viên đến nay)",
                    "Durably committed lines {first}–{last} ({committed} members so far)"
                )
            )?;
        }
        o.flush()?;
        Ok(())
    };
    let counted = pipeline(node, reader, batch, report)?;
    bar.finish_and_clear();
    node.audit(
        "member.import",
        &path.display().to_string(),
        &format!("{committed} records"),
    )?;
    Ok(counted)
}

/// Three stages, so the serial parts overlap: one thread reads and validates rows, one builds and
/// signs each chunk's dossiers (on both cores), and this one writes them durably, calling `report`
/// after each chunk. An error stops the writer, which closes the channels and so stops the other two
/// at their next send. Returns the bad rows and the valid count.
fn pipeline<R: std::io::Read + Send>(
    node: &Node,
    mut reader: csv_import::Reader<R>,
    batch: usize,
    mut report: impl FnMut(&[csv_import::Row], u64) -> Result<()>,
) -> Result<(Vec<csv_import::BadRow>, usize)> {
    let (rows_tx, rows_rx) = std::sync::mpsc::sync_channel::<(Vec<csv_import::Row>, u64)>(2);
    let (built_tx, built_rx) = std::sync::mpsc::sync_channel(1);
    std::thread::scope(|scope| -> Result<(Vec<csv_import::BadRow>, usize)> {
        let parser = scope.spawn(move || {
            let (mut bad, mut valid, mut chunk) = (Vec::new(), 0usize, Vec::new());
            while let Some(row) = reader.next_row() {
                match row {
                    Ok(r) => {
                        valid += 1;
                        chunk.push(r);
                    }
                    Err(b) => bad.push(b),
                }
                if chunk.len() >= batch
                    && rows_tx
                        .send((std::mem::take(&mut chunk), reader.bytes_read()))
                        .is_err()
                {
                    return (bad, valid);
                }
            }
            if !chunk.is_empty() {
                let _ = rows_tx.send((chunk, reader.bytes_read()));
            }
            (bad, valid)
        });
        let builder = scope.spawn(move || {
            use rayon::prelude::*;
            for (chunk, read) in rows_rx {
                let built = chunk
                    .par_iter()
                    .map(|row| {
                        let (_, vc, doc) = node.build_member(row.fields.clone(), Vec::new())?;
                        Ok((vc, doc))
                    })
                    .collect::<Result<Vec<_>>>();
                let failed = built.is_err();
                if built_tx.send((chunk, read, built)).is_err() || failed {
                    break;
                }
            }
        });
        let written = built_rx.into_iter().try_for_each(|(chunk, read, built)| {
            node.commit_created(built?)?;
            report(&chunk, read)
        });
        let built = builder.join();
        let parsed = parser.join();
        written?;
        built.map_err(|_| anyhow::anyhow!("the import's builder thread failed"))?;
        parsed.map_err(|_| anyhow::anyhow!("the import's reader thread failed"))
    })
}

/// The closing report: every rejected row, then the totals.
fn print_summary(
    bad: &[csv_import::BadRow],
    valid: usize,
    committed: usize,
    dry_run: bool,
    json: bool,
) {
    let total = valid + bad.len();
    let rejected = bad.len();
    if json {
        print_json(
            &json!({"event": "summary", "rows": total, "imported": committed, "valid": valid,
            "rejected": bad.iter().map(|b| json!({"line": b.line, "reason": b.reason})).collect::<Vec<_>>(),
            "dry_run": dry_run}),
        );
    } else {
        for b in bad {
            let (line, reason) = (b.line, &b.reason);
            println!(
                "{}",
                msg!(
                    "  dòng {line}: bị từ chối: {reason}",
                    "  line {line}: rejected: {reason}"
                )
            );
        }
        if dry_run {
            println!(
                "{}",
                msg!(
                    "Chạy thử: {total} dòng, {valid} hợp lệ, {rejected} bị từ chối; chưa ghi gì.",
                    "Dry run: {total} rows, {valid} valid, {rejected} rejected; nothing written."
                )
            );
        } else {
            println!(
                "{}",
                msg!(
                    "Đã nhập {committed}/{total} dòng; {rejected} dòng bị từ chối.",
                    "Imported {committed} of {total} rows; {rejected} rows rejected."
                )
            );
        }
    }
}
