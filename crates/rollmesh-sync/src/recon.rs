//! The reconciliation fallback: range-based set reconciliation (negentropy) over the state hashes of the
//! documents both sides may hold. The puller (initiator) learns which of the peer's document states it
//! lacks; the served side keeps the map from state hash to document until the puller's `Want` arrives.

use std::collections::BTreeMap;

use negentropy::{Id, Negentropy, NegentropyStorageBase, NegentropyStorageVector};

use crate::session::{DocId, StateHash};

/// A reconciliation failed (a malformed message from the peer, or an internal limit).
#[derive(Debug, thiserror::Error)]
#[error("reconciliation: {0}")]
pub struct ReconError(String);

fn err(e: negentropy::Error) -> ReconError {
    ReconError(e.to_string())
}

fn storage(states: &[(StateHash, DocId)]) -> Result<NegentropyStorageVector, ReconError> {
    let mut set = NegentropyStorageVector::new();
    for (hash, _) in states {
        set.insert(0, Id::from_byte_array(*hash)).map_err(err)?;
    }
    set.seal().map_err(err)?;
    Ok(set)
}

/// The puller's side.
#[derive(Debug)]
pub(crate) struct Client {
    neg: Negentropy<'static, NegentropyStorageVector>,
    need: Vec<Id>,
    have: Vec<Id>,
    /// Our documents by state hash: a state the peer lacks names a document it may have let go of.
    mine: BTreeMap<StateHash, DocId>,
}

/// What a round gives the puller.
pub(crate) enum ClientStep {
    /// Send this to the peer.
    Next(Vec<u8>),
    /// Done: the peer's state hashes we lack, and our documents whose state the peer does not hold
    /// among those it offered (changed there, or gone from our common scope).
    Done(Vec<StateHash>, Vec<DocId>),
}

impl Client {
    /// Starts over our states; returns the client and its first message, or `None` when we hold nothing
    /// (then there is nothing to reconcile: the peer's log is replayed from the start).
    pub(crate) fn start(
        states: &[(StateHash, DocId)],
    ) -> Result<Option<(Client, Vec<u8>)>, ReconError> {
        if states.is_empty() {
            return Ok(None);
        }
        let set = storage(states)?;
        if set.size().map_err(err)? == 0 {
            return Ok(None);
        }
        let mut neg = Negentropy::owned(set, 0).map_err(err)?;
        let first = neg.initiate().map_err(err)?;
        Ok(Some((
            Client {
                neg,
                need: Vec::new(),
                have: Vec::new(),
                mine: states.iter().map(|(h, d)| (*h, *d)).collect(),
            },
            first,
        )))
    }

    /// Takes the peer's answer.
    pub(crate) fn step(&mut self, payload: &[u8]) -> Result<ClientStep, ReconError> {
        match self
            .neg
            .reconcile_with_ids(payload, &mut self.have, &mut self.need)
            .map_err(err)?
        {
            Some(next) => Ok(ClientStep::Next(next)),
            None => {
                // Sorted: negentropy gathers them from a `HashSet`, whose order changes from run to run.
                let mut ids: Vec<StateHash> = self.need.drain(..).map(|i| *i.as_bytes()).collect();
                ids.sort_unstable();
                ids.dedup();
                let mut gone: Vec<DocId> = self
                    .have
                    .drain(..)
                    .filter_map(|i| self.mine.get(i.as_bytes()).copied())
                    .collect();
                gone.sort_unstable();
                gone.dedup();
                Ok(ClientStep::Done(ids, gone))
            }
        }
    }
}

/// The served side.
#[derive(Debug)]
pub(crate) struct Server {
    neg: Negentropy<'static, NegentropyStorageVector>,
    /// Our log head when the reconciliation started: the `upto` of the answer to `Want`.
    pub(crate) head_at: u64,
    docs: BTreeMap<StateHash, DocId>,
}

impl Server {
    /// Starts over our states (already limited to the peer's scope by the log).
    pub(crate) fn start(
        states: Vec<(StateHash, DocId)>,
        head_at: u64,
    ) -> Result<Server, ReconError> {
        let set = storage(&states)?;
        Ok(Server {
            neg: Negentropy::owned(set, 0).map_err(err)?,
            head_at,
            docs: states.into_iter().collect(),
        })
    }

    /// Answers one round.
    pub(crate) fn step(&mut self, payload: &[u8]) -> Result<Vec<u8>, ReconError> {
        self.neg.reconcile(payload).map_err(err)
    }

    /// The documents behind the wanted state hashes; hashes we did not offer are ignored.
    pub(crate) fn docs(&self, wanted: &[StateHash]) -> Vec<DocId> {
        wanted
            .iter()
            .filter_map(|h| self.docs.get(h).copied())
            .collect()
    }
}
