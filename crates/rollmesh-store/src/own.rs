//! A member change as its own history sees it: the document at its dependencies (what it supersedes,
//! what it writes), so that the policy's verdict on it is the same at every node whatever else the node
//! holds (docs/PROTOCOL.md §3d).

use automerge::Automerge;
use rollmesh_model::{
    creation_write, dossier_write, Dossier, DossierWrite, MemberId, MemberRecord,
};
use rollmesh_proto::{RejectCode, Rejection, VerifiedChange};

/// A member change as its own history sees it.
pub(crate) struct OwnView {
    /// The dossier before and after the change, when that differs from what the store holds now
    /// (`None`: the change builds on the current heads).
    pub records: Option<(Option<MemberRecord>, MemberRecord)>,
    /// What its operations write.
    pub written: DossierWrite,
}

/// Reads `vc` against its own history: the document at its dependencies (`doc` itself when they are
/// its heads; an empty document for a creation). Its operations must be ones an edit makes
/// (`dossier_write`), else it is refused `invalid_document`.
pub(crate) fn own_view(
    id: MemberId,
    doc: &Automerge,
    current: Option<&MemberRecord>,
    after: &MemberRecord,
    vc: &VerifiedChange,
) -> Result<OwnView, Rejection> {
    let invalid = |e: String| Rejection::new(RejectCode::InvalidDocument, e);
    // Only the first change of a dossier has no dependencies: another one would be judged against an
    // empty history (as if it created the member) and could make a second events list.
    if vc.change.deps().is_empty() && (current.is_some() || !doc.get_heads().is_empty()) {
        return Err(invalid(
            "a change with no dependencies to a dossier that exists".into(),
        ));
    }
    // A creation writes everything its dossier holds: read it from there, without decoding it (most of
    // what a replica or a bootstrap receives).
    if current.is_none() && vc.change.deps().is_empty() {
        let written = creation_write(&vc.change, after).map_err(|e| invalid(e.to_string()))?;
        return Ok(OwnView {
            records: None,
            written,
        });
    }
    let mut deps = vc.change.deps().to_vec();
    deps.sort();
    let mut heads = doc.get_heads();
    heads.sort();
    if current.is_none() || deps == heads {
        let empty;
        let history = if current.is_none() {
            empty = Automerge::new();
            &empty
        } else {
            doc
        };
        let written = dossier_write(history, &vc.change).map_err(|e| invalid(e.to_string()))?;
        return Ok(OwnView {
            records: None,
            written,
        });
    }
    let mut base = doc.fork_at(&deps).map_err(|e| invalid(e.to_string()))?;
    let written = dossier_write(&base, &vc.change).map_err(|e| invalid(e.to_string()))?;
    let before = Dossier::record_of(id, &base).ok();
    crate::ledger::apply_guarded(&mut base, vc.change.clone())
        .map_err(|e| Rejection::new(RejectCode::BadChange, e))?;
    let own_after = Dossier::record_of(id, &base).map_err(|e| invalid(e.to_string()))?;
    Ok(OwnView {
        records: Some((before, own_after)),
        written,
    })
}
