//! Deciding whether a peer that finished the TLS handshake may sync: its credential chain must certify the
//! key the handshake proved, reach our root, be valid now and unrevoked, and (for a configured peer) belong
//! to the node we meant to reach. The revocations it brings are recorded first, so a peer cannot hide its
//! own revocation by not mentioning it.

use rollmesh_model::UnitPath;
use rollmesh_proto::{Chain, NodeId, NodePublicKey};
use rollmesh_sync::Record;

use crate::node::{now, Node};
use crate::NodeError;

/// The most distinct revocations a peer may bring in its `Auth` (each costs a signature check).
pub const MAX_AUTH_REVOCATIONS: usize = 4096;

/// A peer that may sync, and with which scope.
#[derive(Clone, Debug)]
pub struct PeerAuth {
    /// Its chain.
    pub chain: Chain,
    /// The unit its credential covers: what it may see and write.
    pub scope: UnitPath,
    /// New revocations it brought that we recorded.
    pub new_revocations: usize,
}

/// Why a peer was refused. `Display` gives `refused: <code> (<detail>)`, what the log and the peer read.
#[derive(Debug, thiserror::Error)]
pub enum PeerRefusal {
    /// A configured peer answered with another node's key.
    #[error("refused: unexpected_node (expected {expected}, found {found})")]
    UnexpectedNode {
        /// The node id in our configuration.
        expected: NodeId,
        /// The node id the handshake proved.
        found: NodeId,
    },
    /// It presented no chain.
    #[error("refused: no_credential (the peer presented no credential)")]
    NoCredential,
    /// Its chain does not decode.
    #[error("refused: malformed_credential ({0})")]
    MalformedCredential(String),
    /// Its chain certifies another key than the one the handshake proved.
    #[error("refused: key_mismatch (the TLS key is not the credential's key)")]
    KeyMismatch,
    /// Its chain does not validate (unknown root, expired, revoked, out of its issuer's unit, ...).
    #[error("refused: {code} ({detail})")]
    Chain {
        /// The stable reason code.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// This node has no root key, so it cannot check anyone.
    #[error("refused: no_root (this node has no root key configured)")]
    NoRoot,
    /// Our own store failed while checking (not the peer's fault, but it is not let in).
    #[error("refused: local_error ({0})")]
    Local(#[from] NodeError),
}

impl Node {
    /// Checks a peer's `Auth` (see the module documentation).
    pub fn authenticate_peer(
        &self,
        peer: NodePublicKey,
        chain: &[u8],
        revocations: Vec<Vec<u8>>,
        expected: Option<NodeId>,
    ) -> Result<PeerAuth, PeerRefusal> {
        if let Some(exp) = expected {
            if peer.node_id() != exp {
                return Err(PeerRefusal::UnexpectedNode {
                    expected: exp,
                    found: peer.node_id(),
                });
            }
        }
        let root = self.root().ok_or(PeerRefusal::NoRoot)?;
        if chain.is_empty() {
            return Err(PeerRefusal::NoCredential);
        }
        let decoded =
            Chain::decode(chain).map_err(|e| PeerRefusal::MalformedCredential(e.to_string()))?;
        if decoded.subject() != Some(peer) {
            return Err(PeerRefusal::KeyMismatch);
        }
        // Before any work on what it brings, the chain must reach our root (revocations aside, they
        // come next): a stranger with a self-signed chain gets no signature checks out of us.
        decoded
            .validate(&root, now(), &[])
            .map_err(|e| PeerRefusal::Chain {
                code: e.code(),
                detail: e.to_string(),
            })?;
        let mut new_revocations = 0;
        if !revocations.is_empty() {
            let mut unique: Vec<Vec<u8>> = revocations;
            unique.sort_unstable();
            unique.dedup();
            if unique.len() > MAX_AUTH_REVOCATIONS {
                return Err(PeerRefusal::MalformedCredential(format!(
                    "{} revocations in Auth (at most {MAX_AUTH_REVOCATIONS})",
                    unique.len()
                )));
            }
            // The peer's own chain travels with its revocations: it may be the issuer of one we have
            // never seen, and a revocation is only recorded when its issuer's chain checks out.
            let mut records = vec![Record::chain(chain.to_vec())];
            records.extend(unique.into_iter().map(Record::revocation));
            // Refused revocations are reported in the accept report and change nothing here.
            new_revocations = self.accept_records(records, "peer-auth")?.revocations;
        }
        let chain = decoded;
        // Now with every revocation we know, its own included.
        self.check_chain(&root, &chain)?;
        let scope = chain
            .unit()
            .cloned()
            .ok_or_else(|| PeerRefusal::MalformedCredential("empty chain".into()))?;
        Ok(PeerAuth {
            chain,
            scope,
            new_revocations,
        })
    }

    /// Checks an authenticated peer's chain again (a revocation may have arrived since).
    pub fn recheck_peer(&self, chain: &Chain) -> Result<(), PeerRefusal> {
        let root = self.root().ok_or(PeerRefusal::NoRoot)?;
        self.check_chain(&root, chain)
    }

    fn check_chain(&self, root: &NodePublicKey, chain: &Chain) -> Result<(), PeerRefusal> {
        let revs = self.revocations()?;
        chain
            .validate(root, now(), &revs)
            .map_err(|e| PeerRefusal::Chain {
                code: e.code(),
                detail: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests;
