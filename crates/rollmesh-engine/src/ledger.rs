//! The cells' ledgers at a node: recording meetings, attendance and dues as this node's signed changes,
//! and reading them back. A node writes the ledgers of the cells in its scope (its own, or, for a ward,
//! those of its cells without a clerk); peers accept such a change only from a credential that covers the
//! cell (`ChangePolicy::check_unit`).

use chrono::Datelike;
use rollmesh_model::ledger::{Grant, LedgerDoc, LedgerEdit, LedgerId, LedgerName};
use rollmesh_model::{MemberId, UnitPath};
use rollmesh_proto::{actor_for, DocKind, VerifiedChange};

use crate::node::{now, Node};
use crate::NodeError;

impl Node {
    /// Records `edit` in the ledger of `cell` for `year` as one signed change, durable when this returns.
    /// False when the edit changed nothing (every value was already recorded).
    ///
    /// Entries about a member temporarily attached to `cell` that year (an attachment book for them is
    /// held here) go to that member's attachment book, with the meetings they attended; the rest to
    /// the cell's own ledger.
    pub fn edit_ledger(
        &self,
        cell: &UnitPath,
        year: i32,
        edit: &LedgerEdit,
    ) -> Result<bool, NodeError> {
        self.check_scope(cell)?;
        if edit.is_empty() {
            return Ok(false);
        }
        let (own, attached) = self.route(cell, year, edit)?;
        let mut changed = false;
        for (name, e) in attached {
            changed |= self.edit_book(&name, &e)?;
        }
        if !own.is_empty() {
            changed |= self.edit_book(&LedgerName::cell(cell.clone(), year), &own)?;
        }
        Ok(changed)
    }

    /// Splits an edit of `cell`'s year into the part for its own ledger and the parts for the attachment
    /// books of members attached to it that year. A member attached to the cell in other years only,
    /// whose dossier is not held here, is refused: the host has no book for them that year.
    fn route(
        &self,
        cell: &UnitPath,
        year: i32,
        edit: &LedgerEdit,
    ) -> Result<(LedgerEdit, Vec<(LedgerName, LedgerEdit)>), NodeError> {
        let all: Vec<rollmesh_store::LedgerHead> = self
            .store
            .ledgers(Some(cell))?
            .into_iter()
            .filter(|h| h.cell == *cell && h.attached.is_some())
            .collect();
        // The members the edit names whose dossier is not held here: only they can be attached to this
        // cell from elsewhere (a member of this node's own cells is never routed to a book, whatever a
        // book may claim about them).
        let mut named: std::collections::BTreeSet<MemberId> = edit
            .attendance
            .keys()
            .map(|(_, m)| *m)
            .chain(edit.dues.keys().map(|(m, _)| *m))
            .chain(edit.cleared_dues.iter().map(|(m, _)| *m))
            .chain(edit.ratings.keys().copied())
            .collect();
        let mut held = Vec::new();
        for m in &named {
            if self.store.record(m)?.is_some() {
                held.push(*m);
            }
        }
        named.retain(|m| !held.contains(m));
        let mut books: Vec<LedgerName> = Vec::new();
        for m in &named {
            let of_member = |h: &&rollmesh_store::LedgerHead| {
                h.attached.as_ref().is_some_and(|a| a.member == *m)
            };
            let this_year: Vec<&rollmesh_store::LedgerHead> = all
                .iter()
                .filter(of_member)
                .filter(|h| h.year == year && h.grant.is_some())
                .collect();
            match this_year.as_slice() {
                [] if all.iter().any(|h| of_member(&h)) => return Err(outside_year(year)),
                [] => {}
                [one] => books.push(one.name()),
                several => {
                    // Two cells claim to be the member's home: the host cannot tell which is; the clerk
                    // must ask the member's own cell.
                    let homes = several
                        .iter()
                        .filter_map(|h| h.attached.as_ref().map(|a| a.home.to_string()))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(NodeError::Refused(crate::msg!(
                        "nhiều chi bộ cùng ghi sinh hoạt tạm thời của đảng viên {m} tại đây ({homes}): hãy hỏi chi bộ chính thức của đảng viên",
                        "several cells record member {m} as attached here ({homes}): ask the member's own cell"
                    )));
                }
            }
        }
        Ok(split_attached(edit, &books))
    }

    /// Checks, without writing, that `edit` (entries about one member attached to `cell`) fits that
    /// member's attachment book of `year`: what a sheet row is checked with before a sheet is written.
    pub fn check_attached(
        &self,
        cell: &UnitPath,
        year: i32,
        edit: &LedgerEdit,
    ) -> Result<(), NodeError> {
        let (own, attached) = self.route(cell, year, edit)?;
        if !own.is_empty() {
            return Err(outside_year(year));
        }
        for (name, e) in attached {
            let mut book = self.store.book(&name)?;
            book.edit(actor_for(&self.key.public()), &e, now())?;
        }
        Ok(())
    }

    /// Records the temporary attachment of `member` (of this node's scope) to the cell `host`, as the
    /// home side: the grant written into the member's attachment book of every year it touches. The
    /// host may then record the member's meetings and dues inside it; writing it again with other
    /// dates extends or shortens it (entries outside the new dates stop counting everywhere). The
    /// grant tells the host the member's name. Refused: a host that is not a cell of the tree (when
    /// the tree is held), and a period overlapping an attachment to another host.
    pub fn grant_attachment(
        &self,
        member: &MemberId,
        host: &UnitPath,
        grant: Grant,
    ) -> Result<GrantReport, NodeError> {
        let record = self.store.record(member)?;
        let home = record
            .as_ref()
            .and_then(|r| r.unit())
            .ok_or_else(|| {
                NodeError::Refused(crate::msg!(
                    "nút này không giữ hồ sơ đảng viên {member}: sinh hoạt tạm thời do chi bộ chính thức của đảng viên ghi",
                    "member {member} is not held here: the member's own cell records an attachment"
                ))
            })?;
        self.check_scope(&home)?;
        if host.covers(&home) || home.covers(host) {
            return Err(NodeError::Refused(crate::msg!(
                "{host} là chi bộ của chính đảng viên hoặc đơn vị cấp trên của chi bộ đó",
                "{host} is the member's own cell or contains it"
            )));
        }
        self.check_unit_exists(host)?;
        if let Some(tree) = self.org_tree()? {
            if tree.children(host).next().is_some() {
                return Err(NodeError::Refused(crate::msg!(
                    "{host} không phải chi bộ: đảng viên sinh hoạt tạm thời tại một chi bộ",
                    "{host} is not a cell: a member is attached to a cell"
                )));
            }
        }
        let name = record.map(|r| r.name().to_string()).unwrap_or_default();
        let grant = grant.with_name(&name)?;
        // Every year the attachment touches, and the books of earlier dates of this attachment (so a
        // shortened one stops counting in a year it no longer reaches).
        let mut years: std::collections::BTreeSet<i32> =
            (grant.from.year()..=grant.until.year()).collect();
        let mut report = GrantReport::default();
        for h in self.attachments()? {
            let Some(a) = h.attached.as_ref().filter(|a| a.member == *member) else {
                continue;
            };
            if h.cell == *host {
                years.insert(h.year);
                // What the host recorded that the new dates leave out.
                report.withdrawn += h
                    .ledger
                    .dues
                    .values()
                    .flat_map(|m| m.keys())
                    .filter(|month| !grant.touches_month(h.year, **month))
                    .count();
            } else if let Some(other) = h
                .grant
                .as_ref()
                .filter(|g| a.home == home && g.from <= grant.until && grant.from <= g.until)
            {
                let (f, u) = (
                    other.from.format("%d/%m/%Y"),
                    other.until.format("%d/%m/%Y"),
                );
                let other_host = &h.cell;
                return Err(NodeError::Refused(crate::msg!(
                    "đảng viên đã sinh hoạt tạm thời tại {other_host} từ {f} đến {u}: rút ngắn lần đó trước",
                    "the member is attached to {other_host} from {f} to {u}: shorten that one first"
                )));
            }
        }
        for year in years {
            let name = LedgerName::attachment(host.clone(), year, *member, home.clone());
            let mut e = LedgerEdit::new();
            e.set_grant(grant.clone());
            if self.edit_book(&name, &e)? {
                report.books += 1;
            }
        }
        Ok(report)
    }

    /// The dues a book of `cell` for `year` holds for `member`: the cell's own ledger, or the member's
    /// attachment book there when they are attached to it.
    pub fn dues_of(
        &self,
        cell: &UnitPath,
        year: i32,
        member: &MemberId,
    ) -> Result<Option<std::collections::BTreeMap<u32, rollmesh_model::ledger::Dues>>, NodeError>
    {
        self.check_scope(cell)?;
        let key = member.to_string();
        for h in self.store.ledgers(Some(cell))? {
            // An attachment book's view holds only its own member's entries.
            if h.cell == *cell && h.year == year {
                if let Some(months) = h.ledger.dues.get(&key) {
                    return Ok(Some(months.clone()));
                }
            }
        }
        Ok(None)
    }

    /// A member attached to a cell of this node, named by their full id: the id and the host cell.
    pub fn attached_host(&self, raw: &str) -> Result<Option<(MemberId, UnitPath)>, NodeError> {
        let Ok(id) = raw.trim().parse::<MemberId>() else {
            return Ok(None);
        };
        Ok(self
            .attachments()?
            .into_iter()
            .find(|h| {
                h.attached.as_ref().is_some_and(|a| a.member == id) && self.unit().covers(&h.cell)
            })
            .map(|h| (id, h.cell)))
    }

    /// The attachment books this node holds (of its scope's members elsewhere, and of members
    /// attached to its cells).
    pub fn attachments(&self) -> Result<Vec<rollmesh_store::LedgerHead>, NodeError> {
        Ok(self
            .store
            .ledgers(None)?
            .into_iter()
            .filter(|h| h.attached.is_some())
            .collect())
    }

    /// Records `edit` in the book `name` as one signed change, durable when this returns. The node must
    /// cover the book's cell or, for an attachment book, its home cell; what it may write there is
    /// checked as every receiver will check it.
    pub fn edit_book(&self, name: &LedgerName, edit: &LedgerEdit) -> Result<bool, NodeError> {
        let units = name.units();
        if !units.iter().any(|u| self.unit().covers(u)) {
            self.check_scope(&name.cell)?;
        }
        if edit.is_empty() {
            return Ok(false);
        }
        let _one_at_a_time = self.ledger_writes.lock().unwrap_or_else(|p| p.into_inner());
        let mut ledger = self.store.book(name)?;
        let Some(change) = ledger.edit(actor_for(&self.key.public()), edit, now())? else {
            return Ok(false);
        };
        let id = MemberId(name.id().0);
        let vc = VerifiedChange::sign_own_compressed(&self.key, DocKind::Ledger, id, change)
            .map_err(|r| NodeError::Internal(r.to_string()))?;
        let report = self.store.apply(vec![vc], "local")?;
        if let Some(why) = report.rejected.first() {
            return Err(NodeError::Refused(why.to_string()));
        }
        Ok(true)
    }

    /// Records many ledger edits made here (a year of a city's books in the benchmark, bulk
    /// maintenance), each its own signed change, committed in durable batches of about `batch` changes.
    /// Edits of one ledger are applied in order; different ledgers are built in parallel. Returns how
    /// many changed something.
    pub fn edit_ledgers(
        &self,
        edits: Vec<(UnitPath, i32, LedgerEdit)>,
        batch: usize,
    ) -> Result<usize, NodeError> {
        use rayon::prelude::*;
        use std::collections::BTreeMap;
        let _one_at_a_time = self.ledger_writes.lock().unwrap_or_else(|p| p.into_inner());
        for (cell, _, _) in &edits {
            self.check_scope(cell)?;
        }
        // One list of edits per ledger, in their order; ledgers taken a batch at a time.
        let mut by_ledger: BTreeMap<(UnitPath, i32), Vec<LedgerEdit>> = BTreeMap::new();
        for (cell, year, e) in edits {
            by_ledger.entry((cell, year)).or_default().push(e);
        }
        let ledgers: Vec<((UnitPath, i32), Vec<LedgerEdit>)> = by_ledger.into_iter().collect();
        let per = ledgers
            .iter()
            .map(|(_, e)| e.len())
            .max()
            .unwrap_or(1)
            .max(1);
        let mut changed = 0;
        for chunk in ledgers.chunks((batch / per).max(1)) {
            let built = chunk
                .par_iter()
                .map(|((cell, year), edits)| {
                    let mut ledger = self.store.ledger(cell, *year)?;
                    let id = MemberId(LedgerId::of(cell, *year).0);
                    let mut out = Vec::new();
                    for e in edits {
                        if let Some(c) = ledger.edit(actor_for(&self.key.public()), e, now())? {
                            out.push(
                                VerifiedChange::sign_own_compressed(
                                    &self.key,
                                    DocKind::Ledger,
                                    id,
                                    c,
                                )
                                .map_err(|r| NodeError::Internal(r.to_string()))?,
                            );
                        }
                    }
                    Ok(out)
                })
                .collect::<Result<Vec<_>, NodeError>>()?;
            let changes: Vec<VerifiedChange> = built.into_iter().flatten().collect();
            changed += changes.len();
            let report = self.store.apply(changes, "local")?;
            if let Some(why) = report.rejected.first() {
                return Err(NodeError::Internal(format!(
                    "own ledger change refused: {why}"
                )));
            }
        }
        Ok(changed)
    }

    /// The ledger of `cell` for `year` as this node holds it (empty when nothing was recorded).
    pub fn ledger(&self, cell: &UnitPath, year: i32) -> Result<LedgerDoc, NodeError> {
        self.check_scope(cell)?;
        Ok(self.store.ledger(cell, year)?)
    }
}

/// Why an entry does not fit a temporary attachment, in the clerk's language.
pub fn outside_text(what: &rollmesh_model::ledger::Outside) -> String {
    use rollmesh_model::ledger::Outside as O;
    match what {
        O::Dues(m, y) => crate::msg!(
            "đảng phí tháng {m:02}/{y} nằm ngoài thời gian sinh hoạt tạm thời mà chi bộ chính thức đã ghi",
            "the dues of {m:02}/{y} are outside the temporary attachment the member's own cell recorded"
        ),
        O::Meeting(d) => {
            let d = d.format("%d/%m/%Y");
            crate::msg!(
                "buổi họp ngày {d} nằm ngoài thời gian sinh hoạt tạm thời mà chi bộ chính thức đã ghi",
                "the meeting of {d} is outside the temporary attachment the member's own cell recorded"
            )
        }
        O::Rating => crate::msg!(
            "chi bộ chính thức của đảng viên xếp loại, không phải nơi sinh hoạt tạm thời",
            "the member's own cell rates them, not the host"
        ),
        O::HelpList => crate::msg!(
            "danh sách giúp đỡ do chi bộ chính thức của đảng viên ghi",
            "the member's own cell keeps the educate-and-help list"
        ),
        O::NoGrant => crate::msg!(
            "chi bộ chính thức chưa ghi thời gian sinh hoạt tạm thời",
            "the member's own cell has recorded no attachment"
        ),
        O::Year(y) => crate::msg!(
            "năm {y} nằm ngoài thời gian sinh hoạt tạm thời mà chi bộ chính thức đã ghi",
            "{y} is outside the temporary attachment the member's own cell recorded"
        ),
    }
}

/// An entry about an attached member in a year their attachment does not reach.
fn outside_year(year: i32) -> NodeError {
    rollmesh_model::ledger::LedgerError::OutsideAttachment(rollmesh_model::ledger::Outside::Year(
        year,
    ))
    .into()
}

/// What recording an attachment did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrantReport {
    /// Attachment books that changed.
    pub books: usize,
    /// Dues months the host had recorded that the new dates leave out (they stop counting).
    pub withdrawn: usize,
}

/// Splits a cell's edit into the part for its own ledger and, for each attachment book in `books`, the
/// entries about that book's member (with the topics of the meetings they attended).
fn split_attached(
    edit: &LedgerEdit,
    books: &[LedgerName],
) -> (LedgerEdit, Vec<(LedgerName, LedgerEdit)>) {
    let mut own = edit.clone();
    let mut out = Vec::new();
    for name in books {
        let Some(a) = &name.attached else { continue };
        let mut e = LedgerEdit::new();
        own.attendance.retain(|(meeting, m), att| {
            if *m != a.member {
                return true;
            }
            e.attendance.insert((*meeting, *m), att.clone());
            if let Some(topic) = edit.meetings.get(meeting) {
                e.meetings.insert(*meeting, topic.clone());
            }
            false
        });
        own.dues.retain(|(m, month), d| {
            if *m != a.member {
                return true;
            }
            e.dues.insert((*m, *month), d.clone());
            false
        });
        own.cleared_dues.retain(|(m, month)| {
            if *m != a.member {
                return true;
            }
            e.cleared_dues.insert((*m, *month));
            false
        });
        if !e.is_empty() {
            out.push((name.clone(), e));
        }
    }
    (own, out)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod attach_tests;
