//! The accept pipeline: records from a bundle or a peer (revocations, chains, then changes) are checked
//! against signatures and the authority rules, refusals are quarantined with their reasons, and the rest is
//! prepared and committed to the store; bundle files are written and read here too.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::Path;

use rollmesh_proto::{
    BundleReader, BundleWriter, Chain, NodePublicKey, RejectCode, Rejection, Revocation,
    SignedChange, VerifiedChange, TAG_CHAIN, TAG_REVOCATION,
};
use rollmesh_store::ApplyReport;
use rollmesh_sync::{Record, RecordKind};

use crate::authority::{ChangePolicy, Trust};
use crate::error::io_err;
use crate::node::{now, Node};
use crate::NodeError;

/// What happened to a set of incoming changes.
#[derive(Debug, Default, Clone)]
pub struct AcceptReport {
    /// Change records read.
    pub received: usize,
    /// New revocations recorded.
    pub revocations: usize,
    /// Credential chains recorded.
    pub chains: usize,
    /// Chains or revocations refused, with reasons.
    pub refused_credentials: Vec<String>,
    /// The store's report on the changes that passed verification and trust.
    pub applied: ApplyReport,
    /// Changes refused before reaching the store (bad signature, untrusted, malformed), with reasons.
    pub rejected: Vec<Rejection>,
    /// False when a bundle's trailer was missing or did not match (truncated or damaged file).
    pub complete: bool,
}

impl AcceptReport {
    /// Every refusal, including the store's own.
    pub fn rejected_total(&self) -> usize {
        self.rejected.len() + self.applied.rejected.len()
    }
}

/// Incoming records checked and prepared, not yet written (see [`Node::prepare_records`]).
pub struct PreparedAccept {
    report: AcceptReport,
    prepared: rollmesh_store::Prepared,
    retried: Vec<u64>,
    source: String,
}

impl Node {
    /// Known revocations that verify against the configured root.
    pub(crate) fn valid_revocations(&self) -> Result<Vec<Revocation>, NodeError> {
        let Some(root) = self.root() else {
            return Ok(Vec::new());
        };
        let raw = self.store.revocations()?;
        let decoded: Vec<Revocation> = raw
            .iter()
            .filter_map(|b| Revocation::decode(b).ok())
            .collect();
        let mut out = Vec::new();
        for r in &decoded {
            let chain = self.chain_of(&r.issuer)?;
            if r.validate(&root, chain.as_ref(), now(), &[]).is_ok() {
                out.push(r.clone());
            }
        }
        Ok(out)
    }

    /// The recorded chain of a node key.
    pub fn chain_of(&self, key: &NodePublicKey) -> Result<Option<Chain>, NodeError> {
        Ok(self.store.chain(key)?.and_then(|b| Chain::decode(&b).ok()))
    }

    /// This node's own installed chain.
    pub fn own_chain(&self) -> Result<Option<Chain>, NodeError> {
        self.chain_of(&self.key.public())
    }

    /// Takes in bundle records (or records from a peer): revocations first, then credential chains, then
    /// changes. Every change is verified and checked against the authority rules; refusals are quarantined
    /// with their reasons and never stop the valid changes around them.
    pub fn accept_records(
        &self,
        records: Vec<Record>,
        source: &str,
    ) -> Result<AcceptReport, NodeError> {
        let prepared = self.prepare_records(records, source)?;
        self.commit_prepared(prepared)
    }

    /// The first half of [`Node::accept_records`]: chains and revocations recorded, signatures and
    /// authority checked, refused changes quarantined, and the store's per-document work done; the
    /// changes themselves are written by [`Node::commit_prepared`]. A sync connection prepares the next
    /// batch while the previous one is being committed.
    pub fn prepare_records(
        &self,
        records: Vec<Record>,
        source: &str,
    ) -> Result<PreparedAccept, NodeError> {
        let mut report = AcceptReport {
            complete: true,
            ..AcceptReport::default()
        };
        let root = self.root();
        let mut raw_changes = Vec::new();
        let mut new_chains: Vec<String> = Vec::new();
        let mut bundle_chains: HashMap<NodePublicKey, Chain> = HashMap::new();
        let mut bundle_revocations = Vec::new();
        for Record { kind, body } in records {
            match kind {
                RecordKind::Change => raw_changes.push(body),
                RecordKind::Chain => match Chain::decode(&body) {
                    Ok(c) => {
                        if let Some(s) = c.subject() {
                            bundle_chains.insert(s, c);
                        }
                    }
                    Err(e) => report
                        .refused_credentials
                        .push(crate::authority::chain_reason(&e)),
                },
                RecordKind::Revocation => bundle_revocations.push(body),
            }
        }
        if let Some(root) = root {
            // Revocations travel ahead of changes: record the valid ones first.
            for body in bundle_revocations {
                let r = match Revocation::decode(&body) {
                    Ok(r) => r,
                    Err(e) => {
                        report
                            .refused_credentials
                            .push(crate::authority::chain_reason(&e));
                        continue;
                    }
                };
                let issuer_chain = match bundle_chains.get(&r.issuer) {
                    Some(c) => Some(c.clone()),
                    None => self.chain_of(&r.issuer)?,
                };
                match r.validate(&root, issuer_chain.as_ref(), now(), &[]) {
                    Ok(()) => {
                        if self.store.put_revocation(&body)? {
                            report.revocations += 1;
                        }
                    }
                    Err(e) => report.refused_credentials.push(format!(
                        "revocation by {}: {}",
                        r.issuer.node_id(),
                        crate::authority::chain_reason(&e)
                    )),
                }
            }
            // A chain is recorded even when a revocation covers one of its links: the authority policy
            // applies revocations itself, keeping valid the changes a revocation lists as accepted, and
            // those changes need their author's chain (peer authentication checks revocations anew).
            for (subject, chain) in &bundle_chains {
                match chain.validate(&root, now(), &[]) {
                    Ok(()) => {
                        if self.store.put_chain(subject, &chain.encode())? {
                            new_chains.push(subject.node_id().to_string());
                        }
                        report.chains += 1;
                    }
                    Err(e) => report.refused_credentials.push(format!(
                        "chain of {}: {}",
                        subject.node_id(),
                        crate::authority::chain_reason(&e)
                    )),
                }
            }
        }
        // Changes refused only because their author's chain was unknown get another chance now it is here.
        let mut retried = Vec::new();
        if !new_chains.is_empty() {
            for q in self.store.quarantine_list()? {
                if q.code == RejectCode::NoCredential.key()
                    && q.author.as_ref().is_some_and(|a| new_chains.contains(a))
                {
                    raw_changes.push(q.bytes);
                    retried.push(q.seq);
                }
            }
        }
        report.received = raw_changes.len();
        let mut quarantine: Vec<(Vec<u8>, Rejection)> = Vec::new();
        let mut envelopes = Vec::new();
        for bytes in raw_changes {
            match SignedChange::decode(bytes.clone()) {
                Ok(e) => envelopes.push(e),
                Err(e) => {
                    quarantine.push((bytes, Rejection::new(RejectCode::Malformed, e.to_string())))
                }
            }
        }
        let mut good = Vec::new();
        for (env, result) in envelopes.iter().zip(SignedChange::verify_many(&envelopes)) {
            match result {
                Err(why) => quarantine.push((env.as_bytes().to_vec(), why)),
                Ok(vc) => good.push(vc),
            }
        }
        let policy = self.policy(&good)?;
        report.rejected = quarantine.iter().map(|(_, r)| r.clone()).collect();
        self.store.quarantine(quarantine, source)?;
        let prepared = self.store.prepare(good, &policy)?;
        Ok(PreparedAccept {
            report,
            prepared,
            retried,
            source: source.to_string(),
        })
    }

    /// Writes what [`Node::prepare_records`] prepared, durably. Prepared batches are committed in the
    /// order they were prepared.
    pub fn commit_prepared(&self, p: PreparedAccept) -> Result<AcceptReport, NodeError> {
        let mut report = p.report;
        report.applied = self.store.commit(p.prepared, &p.source)?;
        // Only after the retried changes are applied (or quarantined afresh) do their old entries go.
        self.store.quarantine_remove(&p.retried)?;
        self.recheck_case_steps(&report.applied)?;
        Ok(report)
    }

    /// Who may take a case's step depends on the city's rule set and tree (docs/PROTOCOL.md §3d). When
    /// a commit brought a new version of either, the steps quarantined as not entitled are judged again
    /// (a step and the rule set that entitles it may arrive in either order); their old entries go once
    /// they are applied or quarantined afresh.
    fn recheck_case_steps(&self, applied: &rollmesh_store::ApplyReport) -> Result<(), NodeError> {
        use rollmesh_model::orgdoc::OrgDocKind;
        let org = [OrgDocKind::Rules.id(), OrgDocKind::Tree.id()];
        if !applied.touched.iter().any(|id| org.contains(&id.0)) {
            return Ok(());
        }
        let entries: Vec<_> = self
            .store
            .quarantine_list()?
            .into_iter()
            .filter(|q| {
                q.code == RejectCode::Unauthorized.key()
                    && (q.detail.starts_with("step ") || q.detail.contains(" case is taken at "))
            })
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        let seqs: Vec<u64> = entries.iter().map(|q| q.seq).collect();
        let records = entries
            .into_iter()
            .map(|q| rollmesh_sync::Record::change(q.bytes))
            .collect();
        let prepared = self.prepare_records(records, "recheck")?;
        self.store.commit(prepared.prepared, "recheck")?;
        self.store.quarantine_remove(&seqs)?;
        Ok(())
    }

    /// Accepts raw change envelopes (no chains or revocations alongside).
    pub fn accept(&self, raw: Vec<Vec<u8>>, source: &str) -> Result<AcceptReport, NodeError> {
        self.accept_records(raw.into_iter().map(Record::change).collect(), source)
    }

    fn policy(&self, changes: &[VerifiedChange]) -> Result<ChangePolicy, NodeError> {
        let trust = match self.root() {
            Some(root) => Trust::Root(root),
            None => {
                let mut keys = Vec::new();
                let mut seen = BTreeSet::new();
                for c in changes {
                    let a = c.envelope.author();
                    if seen.insert(a) && self.store.is_trusted(a.node_id())? {
                        keys.push(a);
                    }
                }
                Trust::List(keys)
            }
        };
        let mut chains = HashMap::new();
        if matches!(trust, Trust::Root(_)) {
            // The authors of this batch, and of the ledger and organisation changes waiting for its
            // documents, which the store judges again before it releases them.
            let mut authors: Vec<NodePublicKey> =
                changes.iter().map(|c| c.envelope.author()).collect();
            let mut ids = BTreeSet::new();
            for c in changes {
                if c.envelope.kind() != rollmesh_proto::DocKind::Member
                    && ids.insert(c.envelope.doc())
                {
                    authors.extend(self.store.waiting_authors(&c.envelope.doc())?);
                }
            }
            for a in authors {
                if let std::collections::hash_map::Entry::Vacant(e) = chains.entry(a) {
                    if let Some(chain) = self.chain_of(&a)? {
                        e.insert(chain);
                    }
                }
            }
        }
        Ok(ChangePolicy {
            scope: self.unit().clone(),
            own: self.key.public(),
            trust,
            revocations: self.valid_revocations()?,
            chains,
            checked: Default::default(),
            now: now(),
            competence: self.competence()?,
        })
    }

    /// Writes every change after log sequence `since` to a bundle file (atomically: a temporary file
    /// renamed into place). Returns the number of changes and the last sequence number included.
    pub fn export_bundle(&self, out: &Path, since: u64) -> Result<(usize, u64), NodeError> {
        let tmp = out.with_extension("partial");
        let file = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        let mut w = BundleWriter::new(std::io::BufWriter::new(file))?;
        // Revocations go first, then the chains of everyone whose signature the receiver must check.
        let mut signers: BTreeSet<NodePublicKey> = BTreeSet::new();
        for r in self.store.revocations()? {
            if let Ok(rev) = Revocation::decode(&r) {
                signers.insert(rev.issuer);
            }
            w.push(TAG_REVOCATION, &r)?;
        }
        let mut cursor = since;
        loop {
            let page = self.store.changes_since(cursor, 4096)?;
            let Some((last_seq, _)) = page.last() else {
                break;
            };
            cursor = *last_seq;
            signers.extend(page.iter().map(|(_, c)| c.author()));
        }
        for s in &signers {
            if let Some(chain) = self.store.chain(s)? {
                w.push(TAG_CHAIN, &chain)?;
            }
        }
        let mut last = since;
        let mut count = 0;
        loop {
            let page = self.store.changes_since(last, 4096)?;
            if page.is_empty() {
                break;
            }
            for (seq, c) in &page {
                w.push_change(c)?;
                last = *seq;
                count += 1;
            }
        }
        let buf = w.finish()?;
        let file = buf.into_inner().map_err(|e| NodeError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, out).map_err(io_err(out))?;
        Ok((count, last))
    }

    /// Reads a bundle file and accepts its changes.
    pub fn import_bundle(&self, path: &Path) -> Result<AcceptReport, NodeError> {
        let bytes = fs::read(path).map_err(io_err(path))?;
        let bundle = BundleReader::parse(&bytes)?;
        let mut complete = bundle.complete;
        let mut records = Vec::with_capacity(bundle.records.len());
        for r in bundle.records {
            match RecordKind::try_from(r.tag) {
                Ok(kind) => records.push(Record { kind, body: r.body }),
                // A record of a kind this version does not know is not silently taken as nothing.
                Err(_) => complete = false,
            }
        }
        let source = format!(
            "bundle:{}",
            path.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        );
        let mut report = self.accept_records(records, &source)?;
        report.complete = report.complete && complete;
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
