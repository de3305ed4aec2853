//! Sheets of the cell's year as clerks keep them in Excel: a month's dues (one row per member: id, name,
//! amount, day paid, or a reason) and a year's ratings (id, name, rating). Each valid row becomes an
//! entry of its member's cell ledger — one signed change per cell — and each refused row is reported with
//! its line and the reason in the clerk's language; nothing is written for a refused row.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rollmesh_model::ledger::{Dues, LedgerEdit, Rating};
use rollmesh_model::member::parse_date;
use rollmesh_model::{text, MemberId, UnitPath};

use crate::csv_import::{read_sheet, BadRow, CsvError};
use crate::node::Node;
use crate::{msg, NodeError};

/// A column of a dues or ratings sheet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Id,
    Name,
    Amount,
    PaidOn,
    Reason,
    Accepted,
    Rating,
    Ignore,
}

/// The column a header cell names, by its Vietnamese or English wording (accents and case ignored).
fn column(name: &str) -> Option<Col> {
    let f = text::fold(name);
    let c = match f.as_str() {
        "ma" | "ma dang vien" | "ma so" | "id" | "member" | "member id" => Col::Id,
        "ho ten" | "ho va ten" | "ten" | "name" | "full name" | "full_name" => Col::Name,
        "so tien" | "dang phi" | "tien" | "amount" | "paid" => Col::Amount,
        "ngay dong" | "ngay nop" | "paid on" | "date" => Col::PaidOn,
        "ly do" | "reason" => Col::Reason,
        "chap nhan" | "ly do duoc chap nhan" | "accepted" => Col::Accepted,
        "xep loai" | "danh gia" | "rating" => Col::Rating,
        "" | "stt" | "tt" | "so tt" | "ghi chu" | "note" | "chi bo" | "unit" | "nam" | "year"
        | "thang" | "month" | "loi" | "error" => Col::Ignore,
        _ => return None,
    };
    Some(c)
}

/// What a checked sheet would write: one edit per cell ledger, and the refused rows.
#[derive(Debug, Default)]
pub struct SheetReport {
    /// The year of the ledgers written.
    pub year: i32,
    /// Edits by cell.
    pub edits: BTreeMap<UnitPath, LedgerEdit>,
    /// Valid rows.
    pub rows: usize,
    /// Refused rows, in file order.
    pub bad: Vec<BadRow>,
    /// The sheet's header, for a file of the refused rows.
    pub header: Vec<String>,
    /// The sheet's separator.
    pub delimiter: u8,
}

/// An amount in đồng as clerks type it: `30000`, `30.000`, `30,000`, `30 000`, optionally followed by
/// `đ` or `đồng`.
pub fn parse_amount(s: &str) -> Option<u64> {
    let s = text::fold(s);
    let s = s
        .trim_end_matches("dong")
        .trim_end_matches('d')
        .trim_end_matches('₫');
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, '.' | ',' | ' '))
        .collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 12 {
        return None;
    }
    digits.parse().ok()
}

/// A yes/no cell: `có`, `x`, `yes`, `1`, `đồng ý`, `chấp nhận` are yes; blank, `không`, `no`, `0` no.
fn yes_no(s: &str) -> Option<bool> {
    match text::fold(s).as_str() {
        "co" | "x" | "yes" | "y" | "1" | "dong y" | "chap nhan" | "true" => Some(true),
        "" | "khong" | "no" | "n" | "0" | "false" => Some(false),
        _ => None,
    }
}

struct Columns(Vec<Col>);

impl Columns {
    fn read(header: &[String], required: &[Col]) -> Result<Columns, NodeError> {
        let ratings = required.contains(&Col::Rating);
        let mut cols = Vec::new();
        for h in header {
            let c = column(h)
                .filter(|c| match c {
                    Col::Rating => ratings,
                    Col::Amount | Col::PaidOn | Col::Reason | Col::Accepted => !ratings,
                    _ => true,
                })
                .ok_or_else(|| {
                    NodeError::Refused(if ratings {
                        msg!(
                            "cột {h:?} ở dòng tiêu đề không dùng được trong bảng xếp loại (các cột: Mã, Họ tên, Xếp loại; STT, Năm, Ghi chú được bỏ qua)",
                            "unknown column {h:?} in a ratings sheet (columns: id, name, rating; no, year, note are ignored)"
                        )
                    } else {
                        msg!(
                            "cột {h:?} ở dòng tiêu đề không dùng được trong bảng đảng phí (các cột: Mã, Họ tên, Số tiền, Ngày đóng, Lý do, Chấp nhận; STT, Tháng, Ghi chú được bỏ qua)",
                            "unknown column {h:?} in a dues sheet (columns: id, name, amount, paid on, reason, accepted; no, month, note are ignored)"
                        )
                    })
                })?;
            if c != Col::Ignore && cols.contains(&c) {
                return Err(NodeError::Refused(msg!(
                    "cột {h:?} xuất hiện hai lần",
                    "column {h:?} appears twice"
                )));
            }
            cols.push(c);
        }
        for r in required {
            if !cols.contains(r) {
                let name = match r {
                    Col::Id => "Mã",
                    Col::Rating => "Xếp loại",
                    _ => "Số tiền",
                };
                return Err(NodeError::Refused(msg!(
                    "dòng tiêu đề thiếu cột {name}",
                    "the header has no {name} column"
                )));
            }
        }
        Ok(Columns(cols))
    }

    fn get<'a>(&self, cells: &'a [String], c: Col) -> &'a str {
        self.0
            .iter()
            .position(|x| *x == c)
            .and_then(|i| cells.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// Why a row about an attached member does not fit their attachment book, in the clerk's words.
fn attached_refusal(e: &NodeError) -> String {
    use rollmesh_model::ledger::LedgerError as L;
    match e {
        NodeError::Ledger(l) => match l.as_ref() {
            L::OutsideAttachment(what) => crate::ledger::outside_text(what),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// Refuses a second row for the same member, naming the line of the first.
fn once(seen: &mut BTreeMap<MemberId, u64>, id: MemberId, line: u64) -> Result<(), String> {
    if let Some(first) = seen.get(&id) {
        return Err(msg!(
            "đảng viên này đã có ở dòng {first}; mỗi người một dòng",
            "this member is already on line {first}; one row per member"
        ));
    }
    seen.insert(id, line);
    Ok(())
}

fn sheet_err(e: CsvError) -> NodeError {
    NodeError::Refused(e.to_string())
}

fn bad(line: u64, reason: String, cells: &[String]) -> BadRow {
    BadRow {
        line,
        reason,
        duplicate: None,
        values: cells.to_vec(),
    }
}

impl Node {
    /// The member a sheet row names (its id or a unique prefix), checked against the name column when
    /// the sheet has one: a row shifted by one line names someone else, and is refused.
    /// A member attached to a cell of this node is named by their full id and checked against the name
    /// their own cell gave with the attachment; the third value says it is such a member.
    fn row_member(
        &self,
        cols: &Columns,
        cells: &[String],
    ) -> Result<(MemberId, UnitPath, bool), String> {
        let raw = cols.get(cells, Col::Id);
        if raw.is_empty() {
            return Err(msg!("thiếu mã đảng viên", "no member id"));
        }
        let resolved = self.resolve(raw);
        // A member attached to a cell of this node: the host holds their book, not their dossier.
        if resolved.is_err() {
            if let Some((id, host)) = self.attached_host(raw).map_err(|e| e.to_string())? {
                let given = self
                    .attachments()
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .filter(|h| h.attached.as_ref().is_some_and(|a| a.member == id))
                    .find_map(|h| h.grant.and_then(|g| g.name));
                let name = cols.get(cells, Col::Name);
                if let Some(held) =
                    given.filter(|g| !name.is_empty() && text::fold(name) != text::fold(g))
                {
                    return Err(msg!(
                        "mã {raw} là của {held}, không phải {name}",
                        "id {raw} belongs to {held}, not {name}"
                    ));
                }
                return Ok((id, host, true));
            }
        }
        let id = resolved.map_err(|e| match e {
            NodeError::Ambiguous(_) => msg!(
                "mã {raw} khớp nhiều đảng viên",
                "id {raw} matches several members"
            ),
            _ => msg!(
                "không có đảng viên mã {raw} trong phạm vi của nút này",
                "no member with id {raw} in this node's scope"
            ),
        })?;
        let rec = self.record(&id).map_err(|e| e.to_string())?;
        let name = cols.get(cells, Col::Name);
        if !name.is_empty() && text::fold(name) != text::fold(rec.name()) {
            let held = rec.name();
            return Err(msg!(
                "mã {raw} là của {held}, không phải {name}",
                "id {raw} belongs to {held}, not {name}"
            ));
        }
        let unit = rec
            .unit()
            .ok_or_else(|| msg!("hồ sơ không có chi bộ", "the dossier has no unit"))?;
        Ok((id, unit, false))
    }

    /// Checks a month's dues sheet. A row with an amount is a payment (on its `Ngày đóng`, else on
    /// `default_paid_on`); a row without is unpaid, with its reason and whether the cell accepted it.
    /// Each row goes to its member's cell ledger, or to `host` (a host cell recording temporarily
    /// attached members).
    pub fn dues_sheet(
        &self,
        bytes: &[u8],
        year: i32,
        month: u32,
        default_paid_on: NaiveDate,
        host: Option<&UnitPath>,
    ) -> Result<SheetReport, NodeError> {
        self.sheet_rows(
            bytes,
            year,
            &[Col::Id, Col::Amount],
            |cols, cells, unit| {
                let raw = cols.get(cells, Col::Amount);
                let reason = cols.get(cells, Col::Reason);
                // What the ledger would refuse is refused here, so a checked sheet writes what it said.
                rollmesh_model::ledger::validate_text("reason", reason).map_err(|_| {
                    msg!(
                        "lý do quá dài (tối đa 500 ký tự) hoặc có ký tự điều khiển",
                        "the reason is too long (500 characters at most) or holds control characters"
                    )
                })?;
                // An amount of nothing ("0", "00", "0 đ") is no payment.
                let nothing_paid = raw.is_empty() || parse_amount(raw) == Some(0);
                let dues = match nothing_paid {
                    true => {
                        let acc = cols.get(cells, Col::Accepted);
                        let accepted = yes_no(acc).ok_or_else(|| {
                            msg!(
                                "cột Chấp nhận: {acc:?} không phải có/không",
                                "accepted: {acc:?} is not yes/no"
                            )
                        })?;
                        Dues::Unpaid {
                            reason: (!reason.is_empty()).then(|| reason.to_string()),
                            accepted,
                        }
                    }
                    false => {
                        let amount = parse_amount(raw).ok_or_else(|| {
                            msg!(
                                "số tiền {raw:?} không phải số đồng",
                                "amount {raw:?} is not a number of đồng"
                            )
                        })?;
                        let on = cols.get(cells, Col::PaidOn);
                        let date = match on {
                            "" => default_paid_on,
                            _ => parse_date(on).ok_or_else(|| {
                                msg!(
                                    "ngày đóng {on:?} không phải ngày dạng DD/MM/YYYY",
                                    "paid on {on:?} is not a date like DD/MM/YYYY"
                                )
                            })?,
                        };
                        Dues::Paid { amount, date }
                    }
                };
                let cell = host.cloned().unwrap_or(unit);
                self.check_scope(&cell).map_err(|e| e.to_string())?;
                Ok((cell, dues))
            },
            |edit, id, dues| {
                edit.set_dues(id, month, dues);
            },
        )
    }

    /// Checks a year's ratings sheet: each row's member and one of the four levels, in words.
    pub fn ratings_sheet(&self, bytes: &[u8], year: i32) -> Result<SheetReport, NodeError> {
        self.sheet_rows(
            bytes,
            year,
            &[Col::Id, Col::Rating],
            |cols, cells, unit| {
                let raw = cols.get(cells, Col::Rating);
                let rating = Rating::parse(raw).ok_or_else(|| {
                    msg!(
                        "xếp loại {raw:?} không phải một trong: hoàn thành xuất sắc, hoàn thành tốt, hoàn thành, không hoàn thành nhiệm vụ",
                        "rating {raw:?} is not one of: excellent, good, completed, not completed"
                    )
                })?;
                Ok((unit, rating))
            },
            |edit, id, rating| {
                edit.set_rating(id, rating);
            },
        )
    }

    /// Reads a sheet whose header names the `required` columns and makes each row an entry of a cell
    /// ledger: `parse` reads one row's value (given the member's cell; it returns the cell whose ledger
    /// takes it) and `add` puts it into that ledger's edit. A row that cannot be read, names no member of
    /// this node's scope, fails `parse` or repeats a member is refused with its line and reason.
    fn sheet_rows<T>(
        &self,
        bytes: &[u8],
        year: i32,
        required: &[Col],
        parse: impl Fn(&Columns, &[String], UnitPath) -> Result<(UnitPath, T), String>,
        add: impl Fn(&mut LedgerEdit, MemberId, T),
    ) -> Result<SheetReport, NodeError>
    where
        T: Clone,
    {
        let sheet = read_sheet(bytes, |h| column(h).is_some()).map_err(sheet_err)?;
        let cols = Columns::read(&sheet.header, required)?;
        let mut report = SheetReport {
            year,
            header: sheet.header.clone(),
            delimiter: sheet.delimiter,
            ..SheetReport::default()
        };
        let mut seen: BTreeMap<MemberId, u64> = BTreeMap::new();
        for (line, cells) in &sheet.rows {
            let row = (|| -> Result<(UnitPath, MemberId, T), String> {
                if cells.is_empty() {
                    return Err(msg!("dòng không đọc được", "unreadable row"));
                }
                let (id, unit, attached) = self.row_member(&cols, cells)?;
                let (cell, value) = parse(&cols, cells, unit)?;
                once(&mut seen, id, *line)?;
                if attached {
                    // A member attached here: the row must fit their attachment book.
                    let mut probe = LedgerEdit::new();
                    add(&mut probe, id, value.clone());
                    self.check_attached(&cell, year, &probe)
                        .map_err(|e| attached_refusal(&e))?;
                }
                Ok((cell, id, value))
            })();
            match row {
                Ok((cell, id, value)) => {
                    add(report.edits.entry(cell).or_default(), id, value);
                    report.rows += 1;
                }
                Err(why) => report.bad.push(bad(*line, why, cells)),
            }
        }
        Ok(report)
    }

    /// Writes a checked sheet's edits: one signed change per cell ledger. Returns how many ledgers
    /// changed.
    pub fn apply_sheet(&self, report: &SheetReport) -> Result<usize, NodeError> {
        let mut changed = 0;
        for (cell, edit) in &report.edits {
            if self.edit_ledger(cell, report.year, edit)? {
                changed += 1;
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests;
