//! A received change's counters must continue its history: its first operation follows the largest
//! operation of its dependencies (each of which follows all of its own), and its sequence number its
//! author's last. A change numbered below its history would apply, then make the saved document
//! unloadable; checked for dossiers and ledgers alike.

use automerge::{Automerge, Change, ReadDoc};

/// Checks `change` against `doc`, which holds its dependencies (and may hold the change itself).
/// `Err` says which counter does not follow.
pub(crate) fn follow_history(doc: &Automerge, change: &Change) -> Result<(), String> {
    let max_op = change
        .deps()
        .iter()
        .filter_map(|h| doc.get_change_by_hash(h))
        .map(|c| c.max_op())
        .max()
        .unwrap_or(0);
    if change.start_op().get() != max_op + 1 {
        return Err(format!(
            "operation counter {} does not follow its history's {max_op}",
            change.start_op()
        ));
    }
    let last_seq = doc
        .get_changes(&[])
        .iter()
        .filter(|c| c.actor_id() == change.actor_id() && c.hash() != change.hash())
        .map(|c| c.seq())
        .max()
        .unwrap_or(0);
    if change.seq() != last_seq + 1 {
        return Err(format!(
            "sequence number {} does not follow its author's {last_seq}",
            change.seq()
        ));
    }
    Ok(())
}
