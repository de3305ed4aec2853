//! Authority: deciding, for every incoming change, whether its author may write the member it touches.
//! With a root key configured a node trusts credential chains (the trust issue); without one it falls back
//! to the foundation's hand-kept trust list. Either way a node keeps only records inside its own scope.

use std::collections::HashMap;

use rollmesh_model::{MemberRecord, UnitPath};
use rollmesh_proto::{
    roles, Chain, ChainError, NodePublicKey, RejectCode, Rejection, Revocation, VerifiedChange,
};
use rollmesh_store::{Policy, Verdict};

/// What decides whose changes count.
pub enum Trust {
    /// Credential chains from this root key.
    Root(NodePublicKey),
    /// No root configured: this node's own key and these trusted keys.
    List(Vec<NodePublicKey>),
}

/// The policy for one batch of incoming changes.
pub struct ChangePolicy {
    /// This node's scope.
    pub scope: UnitPath,
    /// This node's key (always trusted in list mode).
    pub own: NodePublicKey,
    /// How authors are trusted.
    pub trust: Trust,
    /// Known revocations (validated).
    pub revocations: Vec<Revocation>,
    /// Chains of the authors in this batch, already decoded.
    pub chains: HashMap<NodePublicKey, Chain>,
    /// The outcome of validating each chain against the root, computed on first use.
    pub checked: std::sync::OnceLock<HashMap<NodePublicKey, Result<(), String>>>,
    /// The time chains are checked at.
    pub now: i64,
    /// Who may take each step of a case (the tree's levels and the rule sets' `[cases]` tables).
    pub competence: crate::cases::Competence,
}

fn reject(code: RejectCode, detail: impl Into<String>) -> Verdict {
    Verdict::Reject(Rejection::new(code, detail))
}

impl ChangePolicy {
    fn in_scope(&self, r: Option<&MemberRecord>) -> bool {
        r.and_then(MemberRecord::unit)
            .map(|u| self.scope.covers(&u))
            .unwrap_or(false)
    }
}

/// Who the author of a change may write for: every unit (list mode trusts whole keys), or the units its
/// credential's leaf covers.
enum Writer<'a> {
    Anywhere,
    Under(&'a UnitPath),
}

impl Writer<'_> {
    fn may_write(&self, unit: &UnitPath, what: &str) -> Result<(), Verdict> {
        match self {
            Writer::Anywhere => Ok(()),
            Writer::Under(u) if u.covers(unit) => Ok(()),
            Writer::Under(u) => Err(reject(
                RejectCode::Unauthorized,
                format!("author unit {u} does not cover {what} unit {unit}"),
            )),
        }
    }
}

impl ChangePolicy {
    /// Checks the author of `change` (trust, chain, revocations, clerk role) and says where it may write.
    fn writer(&self, change: &VerifiedChange) -> Result<Writer<'_>, Verdict> {
        let author = change.envelope.author();
        let root = match &self.trust {
            Trust::List(keys) => {
                return if author == self.own || keys.contains(&author) {
                    Ok(Writer::Anywhere)
                } else {
                    Err(reject(
                        RejectCode::Untrusted,
                        format!("author {} is not trusted by this node", author.node_id()),
                    ))
                };
            }
            Trust::Root(root) => root,
        };
        let Some(chain) = self.chains.get(&author) else {
            return Err(reject(
                RejectCode::NoCredential,
                format!("no credential chain known for {}", author.node_id()),
            ));
        };
        if chain.subject() != Some(author) {
            return Err(reject(
                RejectCode::BadCredential,
                "chain certifies another key",
            ));
        }
        // Each author's chain is checked once per policy, not once per change.
        let checked = self
            .checked
            .get_or_init(|| {
                self.chains
                    .iter()
                    .map(|(k, c)| {
                        (
                            *k,
                            c.validate(root, self.now, &[]).map_err(|e| e.to_string()),
                        )
                    })
                    .collect()
            })
            .get(&author);
        if let Some(Err(e)) = checked {
            return Err(reject(RejectCode::BadCredential, e.clone()));
        }
        let hash = change.hash();
        for (i, link) in chain.0.iter().enumerate() {
            for r in self.revocations.iter().filter(|r| r.revokes(link)) {
                // The revoking unit's accepted history stays valid.
                if !(link.subject == author && r.accepted_before(&hash)) {
                    return Err(reject(
                        RejectCode::Revoked,
                        format!(
                            "link {i} ({}) revoked by {}",
                            link.subject.node_id(),
                            r.issuer.node_id()
                        ),
                    ));
                }
            }
        }
        let Some(leaf) = chain.leaf() else {
            return Err(reject(RejectCode::BadCredential, "empty chain"));
        };
        if leaf.roles & roles::CLERK == 0 {
            return Err(reject(
                RejectCode::Unauthorized,
                "the author's credential has no clerk role",
            ));
        }
        Ok(Writer::Under(&leaf.unit))
    }
}

impl Policy for ChangePolicy {
    fn check(
        &self,
        change: &VerifiedChange,
        before: Option<&MemberRecord>,
        after: &MemberRecord,
    ) -> Verdict {
        let writer = match self.writer(change) {
            Ok(w) => w,
            Err(v) => return v,
        };
        for r in [before, Some(after)].into_iter().flatten() {
            let Some(u) = r.unit() else {
                return reject(RejectCode::InvalidDocument, "member has no unit");
            };
            if let Err(v) = writer.may_write(&u, "member") {
                return v;
            }
        }
        // A new member's id carries its creation time: one claiming a time before 2000 or in the future
        // was not made by `MemberId::new` at its author's clock — it may be aimed at another document's
        // id (a cell's future ledger), which one id, one kind would then block.
        if before.is_none() {
            let ms = after.id.unix_ms() as i64;
            if ms < 946_684_800_000 || ms > (self.now + 2 * 86_400) * 1000 {
                return reject(
                    RejectCode::InvalidDocument,
                    "a new member's id carries an impossible creation time",
                );
            }
        }
        Verdict::Accept
    }

    /// Every case step a change adds, as its own history sees it, must be its author's to take, and a
    /// decided status (probationary, official, expelled…) only comes with the step that decides it
    /// (docs/PROTOCOL.md §3d). A trusted key in list mode writes anything.
    fn wants_own(&self) -> bool {
        true
    }

    fn check_own(
        &self,
        change: &VerifiedChange,
        before: Option<&MemberRecord>,
        after: &MemberRecord,
        written: &rollmesh_model::DossierWrite,
    ) -> Verdict {
        match self.writer(change) {
            Err(v) => v,
            Ok(Writer::Anywhere) => Verdict::Accept,
            Ok(Writer::Under(unit)) => {
                match crate::cases::check_change(&self.competence, unit, before, after, written) {
                    Ok(()) => Verdict::Accept,
                    Err(why) => reject(RejectCode::Unauthorized, why),
                }
            }
        }
    }

    /// A cell's ledger is written by the cell's own node or by one of its ancestors (a ward keeping the
    /// books of a cell without a clerk).
    fn check_unit(&self, change: &VerifiedChange, unit: &UnitPath) -> Verdict {
        match self
            .writer(change)
            .and_then(|w| w.may_write(unit, "ledger"))
        {
            Ok(()) => Verdict::Accept,
            Err(v) => v,
        }
    }

    fn keep_unit(&self, unit: &UnitPath) -> bool {
        self.scope.covers(unit)
    }

    /// The organisation-wide documents (tree, rule set, calendar) are written only by a node the root
    /// certified directly: the city (or its standby replica), never a unit below it.
    fn check_org(&self, change: &VerifiedChange) -> Verdict {
        match self.writer(change) {
            Err(v) => v,
            Ok(Writer::Anywhere) => Verdict::Accept,
            Ok(Writer::Under(_)) => {
                let author = change.envelope.author();
                match self.chains.get(&author).map(|c| c.0.len()) {
                    Some(1) => Verdict::Accept,
                    _ => reject(
                        RejectCode::Unauthorized,
                        "only the node certified directly by the root writes organisation-wide documents",
                    ),
                }
            }
        }
    }

    /// A node keeps only its own subtree's members; one that ends outside it (never in scope, or
    /// transferred away) is not stored.
    fn keep(&self, last: &MemberRecord) -> bool {
        self.in_scope(Some(last))
    }
}

/// A human reason for a chain refusal, keyed for display.
pub fn chain_reason(e: &ChainError) -> String {
    format!("{}: {e}", e.code())
}

#[cfg(test)]
mod tests;
