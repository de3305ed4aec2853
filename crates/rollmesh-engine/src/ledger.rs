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
        let books: Vec<LedgerName> = self
            .store
            .ledgers(Some(cell))?
            .into_iter()
            .filter(|h| h.cell == *cell && h.year == year && h.attached.is_some())
            .map(|h| h.name())
            .collect();
        let (own, attached) = split_attached(edit, &books);
        let mut changed = false;
        for (name, e) in attached {
            changed |= self.edit_book(&name, &e)?;
        }
        if !own.is_empty() {
            changed |= self.edit_book(&LedgerName::cell(cell.clone(), year), &own)?;
        }
        Ok(changed)
    }

    /// Records the temporary attachment of `member` (of this node's scope) to the cell `host`, as the
    /// home side: the grant written into the member's attachment book of every year it touches. The
    /// host may then record the member's meetings and dues inside it; writing it again with other
    /// dates extends or shortens it (entries outside the new dates stop counting everywhere). Returns
    /// the books that changed.
    pub fn grant_attachment(
        &self,
        member: &MemberId,
        host: &UnitPath,
        grant: Grant,
    ) -> Result<usize, NodeError> {
        let home = self
            .store
            .record(member)?
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
        // Every year the attachment touches, and the books of earlier dates of this attachment (so a
        // shortened one stops counting in a year it no longer reaches).
        let mut years: std::collections::BTreeSet<i32> =
            (grant.from.year()..=grant.until.year()).collect();
        for h in self.attachments()? {
            if h.cell == *host && h.attached.as_ref().is_some_and(|a| a.member == *member) {
                years.insert(h.year);
            }
        }
        let mut changed = 0;
        for year in years {
            let name = LedgerName::attachment(host.clone(), year, *member, home.clone());
            let mut e = LedgerEdit::new();
            e.set_grant(grant);
            if self.edit_book(&name, &e)? {
                changed += 1;
            }
        }
        Ok(changed)
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
            if h.cell == *cell && h.year == year {
                if let Some(months) = h.ledger.dues.get(&key) {
                    if h.attached.as_ref().is_some_and(|a| a.member == *member)
                        || h.attached.is_none()
                    {
                        return Ok(Some(months.clone()));
                    }
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
