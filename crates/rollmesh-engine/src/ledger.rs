//! The cells' ledgers at a node: recording meetings, attendance and dues as this node's signed changes,
//! and reading them back. A node writes the ledgers of the cells in its scope (its own, or, for a ward,
//! those of its cells without a clerk); peers accept such a change only from a credential that covers the
//! cell (`ChangePolicy::check_unit`).

use rollmesh_model::ledger::{LedgerDoc, LedgerEdit, LedgerId};
use rollmesh_model::{MemberId, UnitPath};
use rollmesh_proto::{actor_for, DocKind, VerifiedChange};

use crate::node::{now, Node};
use crate::NodeError;

impl Node {
    /// Records `edit` in the ledger of `cell` for `year` as one signed change, durable when this returns.
    /// False when the edit changed nothing (every value was already recorded).
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
        let _one_at_a_time = self.ledger_writes.lock().unwrap_or_else(|p| p.into_inner());
        let mut ledger = self.store.ledger(cell, year)?;
        let Some(change) = ledger.edit(actor_for(&self.key.public()), edit, now())? else {
            return Ok(false);
        };
        let id = MemberId(LedgerId::of(cell, year).0);
        let vc = VerifiedChange::sign_own_compressed(&self.key, DocKind::Ledger, id, change)
            .map_err(|r| NodeError::Internal(r.to_string()))?;
        let report = self.store.apply(vec![vc], "local")?;
        if let Some(why) = report.rejected.first() {
            return Err(NodeError::Internal(format!(
                "own ledger change refused: {why}"
            )));
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

#[cfg(test)]
mod tests;
