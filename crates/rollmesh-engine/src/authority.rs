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

impl Policy for ChangePolicy {
    fn check(
        &self,
        change: &VerifiedChange,
        before: Option<&MemberRecord>,
        after: &MemberRecord,
    ) -> Verdict {
        let author = change.envelope.author();
        let root = match &self.trust {
            Trust::List(keys) => {
                return if author == self.own || keys.contains(&author) {
                    Verdict::Accept
                } else {
                    reject(
                        RejectCode::Untrusted,
                        format!("author {} is not trusted by this node", author.node_id()),
                    )
                };
            }
            Trust::Root(root) => root,
        };
        let Some(chain) = self.chains.get(&author) else {
            return reject(
                RejectCode::NoCredential,
                format!("no credential chain known for {}", author.node_id()),
            );
        };
        if chain.subject() != Some(author) {
            return reject(RejectCode::BadCredential, "chain certifies another key");
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
            return reject(RejectCode::BadCredential, e.clone());
        }
        let hash = change.hash();
        for (i, link) in chain.0.iter().enumerate() {
            for r in self.revocations.iter().filter(|r| r.revokes(link)) {
                // The revoking unit's accepted history stays valid.
                if !(link.subject == author && r.accepted_before(&hash)) {
                    return reject(
                        RejectCode::Revoked,
                        format!(
                            "link {i} ({}) revoked by {}",
                            link.subject.node_id(),
                            r.issuer.node_id()
                        ),
                    );
                }
            }
        }
        let Some(leaf) = chain.leaf() else {
            return reject(RejectCode::BadCredential, "empty chain");
        };
        if leaf.roles & roles::CLERK == 0 {
            return reject(
                RejectCode::Unauthorized,
                "the author's credential has no clerk role",
            );
        }
        for r in [before, Some(after)].into_iter().flatten() {
            match r.unit() {
                Some(u) if leaf.unit.covers(&u) => {}
                Some(u) => {
                    return reject(
                        RejectCode::Unauthorized,
                        format!("author unit {} does not cover member unit {u}", leaf.unit),
                    )
                }
                None => return reject(RejectCode::InvalidDocument, "member has no unit"),
            }
        }
        Verdict::Accept
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
