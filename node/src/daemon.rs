//! `rollmesh run`: the node daemon. It listens on QUIC, dials its configured peers with backoff, checks
//! every peer's credential chain after the TLS handshake, and runs one sync session per connection (the
//! pure state machine of `rollmesh-sync`), applying what arrives through the same authority checks as
//! bundles and pushing its own new changes to every connected peer whose scope covers them.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use negentropy::{Id, Negentropy, NegentropyStorageVector};
use rollmesh_model::UnitPath;
use rollmesh_proto::{Chain, NodeId, NodePublicKey, TAG_CHAIN, TAG_CHANGE, TAG_REVOCATION};
use rollmesh_sync::{Effect, Log, LogBatch, Msg, Session};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::node::{Node, NodeSettings};

/// What `status` shows for one peer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerStatus {
    /// The peer's name from the configuration, or its unit.
    pub name: String,
    /// Its address (for dialed peers) or where it came from.
    pub address: String,
    /// Its node id once known.
    pub node_id: String,
    /// Its unit once authenticated.
    pub unit: String,
    /// Whether a session is running.
    pub connected: bool,
    /// Unix time of the last batch applied from it or acknowledged by it.
    pub last_sync: Option<i64>,
    /// Change records sent to it (this process).
    pub changes_sent: u64,
    /// Change records received from it (this process).
    pub changes_received: u64,
    /// Entries of its log we know we have not applied yet.
    pub backlog: u64,
    /// The last sequence number of its change log we have applied (our checkpoint).
    pub applied_seq: u64,
    /// Messages and bytes exchanged in the current session (for measurements).
    pub messages: u64,
    /// Bytes written and read in the current session, frames included.
    pub bytes: u64,
    /// The last error or refusal.
    pub last_error: Option<String>,
}

struct Shared {
    node: Arc<Node>,
    root: NodePublicKey,
    own_chain: Vec<u8>,
    head: watch::Sender<u64>,
    revs: watch::Sender<u64>,
    status: Mutex<BTreeMap<String, PeerStatus>>,
    shutdown: watch::Receiver<bool>,
    started: Instant,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn set_status(&self, key: &str, f: impl FnOnce(&mut PeerStatus)) {
        let mut m = self.status.lock().unwrap_or_else(|p| p.into_inner());
        f(m.entry(key.to_string()).or_default());
    }

    fn bump_head(&self) {
        let h = self.node.store().last_seq();
        self.head.send_if_modified(|v| {
            let changed = *v != h;
            *v = h;
            changed
        });
    }
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The view of our log that one peer may see: only changes about members inside its scope, with the chains
/// of their authors and every revocation we hold, each sent once per session.
struct PeerLog<'a> {
    node: &'a Node,
    scope: UnitPath,
    peer: NodePublicKey,
    sent_chains: HashSet<NodePublicKey>,
    sent_revs: HashSet<Vec<u8>>,
}

impl Log for PeerLog<'_> {
    fn index(&self) -> u64 {
        self.node.store().index_id()
    }

    fn rotate_index(&mut self) -> u64 {
        match self.node.store().rotate_index() {
            Ok(i) => {
                warn!("a peer has seen more of our change log than we hold (restored store?): new log index");
                i
            }
            Err(_) => self.index(),
        }
    }

    fn head(&self) -> u64 {
        self.node.store().last_seq()
    }

    fn read(&mut self, from: u64, max: usize) -> LogBatch {
        // Every batch is self-contained: it carries the chains of the authors of its changes and, when it
        // carries changes or the revocations changed, every revocation with its issuer's chain. A batch the
        // peer drops (a duplicate, a gap) is re-read later, so nothing may be marked "already sent".
        let store = self.node.store();
        self.sent_chains.clear();
        let mut changes = Vec::new();
        // Entries examined but not sent (out of scope, removed) still advance the peer's checkpoint; entries
        // appended while we read are left for the next batch.
        // Out-of-scope entries are skipped cheaply, so far more may be examined than sent.
        let (entries, upto) = store
            .log_since_in(from, max, max.saturating_mul(64), Some(&self.scope))
            .unwrap_or((Vec::new(), from));
        for e in entries {
            let author = e.change.author();
            if author == self.peer {
                continue; // it made the change, it has it
            }
            let covered: Vec<bool> = e.units.iter().map(|u| self.scope.covers(u)).collect();
            if !covered.iter().any(|c| *c) {
                continue;
            }
            // A member moving into the peer's scope from outside: the peer has never seen its history.
            if covered.len() == 2 && !covered[0] && covered[1] {
                for (_, h) in store.history(&e.change.doc()).unwrap_or_default() {
                    self.push_change(&mut changes, h);
                }
            }
            self.push_change(&mut changes, e.change);
        }
        let revs = store.revocations().unwrap_or_default();
        let revs_changed = revs.iter().any(|r| !self.sent_revs.contains(r));
        let mut records = Vec::new();
        if !revs.is_empty() && (revs_changed || !changes.is_empty()) {
            for r in revs {
                if let Ok(rev) = rollmesh_proto::Revocation::decode(&r) {
                    if self.sent_chains.insert(rev.issuer) {
                        if let Ok(Some(c)) = store.chain(&rev.issuer) {
                            records.push((TAG_CHAIN, c));
                        }
                    }
                }
                self.sent_revs.insert(r.clone());
                records.push((TAG_REVOCATION, r));
            }
        }
        records.extend(changes);
        LogBatch { records, upto }
    }
}

/// A batch handed out by the session: its records, the peer's log index id, the checkpoint after it.
type Incoming = (Vec<(u8, Vec<u8>)>, u64, u64);

/// A blocking task of the apply pipeline, with the batch's index id and checkpoint.
type Task<T> = (
    u64,
    u64,
    tokio::task::JoinHandle<Result<T, crate::node::NodeError>>,
);

/// The served side of a reconciliation: the negentropy state, the log head it started at, and our state
/// hashes by document.
type ServedRecon = (
    Negentropy<'static, NegentropyStorageVector>,
    u64,
    HashMap<[u8; 32], rollmesh_model::MemberId>,
);

/// Our documents the peer may hold, as a negentropy set over their state hashes.
fn state_set(
    node: &Node,
    peer_scope: &UnitPath,
) -> (
    NegentropyStorageVector,
    HashMap<[u8; 32], rollmesh_model::MemberId>,
) {
    let mut set = NegentropyStorageVector::new();
    let mut map = HashMap::new();
    for (id, unit, hash) in node.store().states().unwrap_or_default() {
        if peer_scope.covers(&unit) {
            let _ = set.insert(0, Id::from_byte_array(hash));
            map.insert(hash, id);
        }
    }
    let _ = set.seal();
    (set, map)
}

impl PeerLog<'_> {
    fn push_change(&mut self, records: &mut Vec<(u8, Vec<u8>)>, c: rollmesh_proto::SignedChange) {
        let author = c.author();
        if self.sent_chains.insert(author) {
            if let Ok(Some(chain)) = self.node.store().chain(&author) {
                records.push((TAG_CHAIN, chain));
            }
        }
        records.push((TAG_CHANGE, c.as_bytes().to_vec()));
    }
}

/// Loads the settings file and the node it names.
pub fn load(config: &Path) -> Result<(PathBuf, NodeSettings)> {
    let text = std::fs::read_to_string(config).with_context(|| config.display().to_string())?;
    let settings: NodeSettings =
        toml::from_str(&text).with_context(|| config.display().to_string())?;
    let base = config.parent().unwrap_or(Path::new("."));
    let data = match &settings.data {
        Some(d) => base.join(d),
        None => base.to_path_buf(),
    };
    Ok((data, settings))
}

/// Runs the node until SIGINT or SIGTERM.
pub fn run(config: &Path) -> Result<()> {
    let (data, settings) = load(config)?;
    let node = Node::open(&data)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(Arc::new(node), settings, data))
}

async fn serve(node: Arc<Node>, settings: NodeSettings, data: PathBuf) -> Result<()> {
    let root = node
        .root()
        .context("rollmesh run needs a root key in node.toml (root_key)")?;
    let own_chain = match &settings.credential_file {
        Some(f) => {
            Chain::from_file(&std::fs::read(data.join(f)).with_context(|| f.clone())?)?.encode()
        }
        None => node.own_chain()?.map(|c| c.encode()).unwrap_or_default(),
    };
    let listen: SocketAddr = settings
        .listen
        .as_deref()
        .unwrap_or("127.0.0.1:0")
        .parse()
        .context("listen is not an address like 127.0.0.1:7400")?;
    let identity = rollmesh_net::Identity::from_seed(&node.key_seed())?;
    let endpoint = rollmesh_net::endpoint(&identity, listen)?;
    let local = endpoint.local_addr()?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (head_tx, _) = watch::channel(node.store().last_seq());
    let (revs_tx, _) = watch::channel(0u64);
    let shared = Arc::new(Shared {
        node: node.clone(),
        root,
        own_chain,
        head: head_tx,
        revs: revs_tx,
        status: Mutex::new(BTreeMap::new()),
        shutdown: shutdown_rx,
        started: Instant::now(),
    });
    // The address file lets launchers and tests find a node started on port 0.
    std::fs::write(data.join("listen.addr"), format!("{local}\n"))?;
    info!(node = %node.id(), unit = %node.unit(), %local, "rollmesh node listening");

    let admin = tokio::spawn(admin_server(shared.clone(), data.clone()));
    let acceptor = {
        let shared = shared.clone();
        let ep = endpoint.clone();
        tokio::spawn(async move {
            while let Some(incoming) = ep.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let from = incoming.remote_address();
                    match incoming.await {
                        Ok(conn) => {
                            let _ = connection(shared, conn, None, from.to_string(), false).await;
                        }
                        Err(e) => warn!(%from, error = %e, "handshake failed"),
                    }
                });
            }
        })
    };
    let mut dialers = Vec::new();
    for p in settings.peers.clone() {
        let shared = shared.clone();
        let ep = endpoint.clone();
        dialers.push(tokio::spawn(dial_loop(shared, ep, p)));
    }

    wait_for_signal().await;
    info!("shutting down");
    let _ = shutdown_tx.send(true);
    endpoint.close(0u32.into(), b"shutdown");
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    acceptor.abort();
    admin.abort();
    for d in dialers {
        d.abort();
    }
    let _ = std::fs::remove_file(crate::admin::socket_path(&data));
    let _ = std::fs::remove_file(data.join("listen.addr"));
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn dial_loop(shared: Arc<Shared>, ep: quinn::Endpoint, peer: crate::node::PeerSettings) {
    let name = peer.name.clone().unwrap_or_else(|| peer.address.clone());
    let expected: Option<NodeId> = peer.node_id.as_deref().and_then(|s| s.parse().ok());
    let mut backoff = Duration::from_millis(100);
    let mut shutdown = shared.shutdown.clone();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let addr: Result<SocketAddr, _> = peer.address.parse();
        let outcome = match addr {
            Err(_) => Err(format!("bad peer address {}", peer.address)),
            Ok(a) => match ep.connect(a, "rollmesh") {
                Err(e) => Err(e.to_string()),
                Ok(connecting) => {
                    match tokio::time::timeout(Duration::from_secs(5), connecting).await {
                        Ok(Ok(conn)) => {
                            let started = Instant::now();
                            let r = connection(shared.clone(), conn, expected, name.clone(), true)
                                .await;
                            if started.elapsed() > Duration::from_secs(5) {
                                backoff = Duration::from_millis(100);
                            }
                            r
                        }
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("connect timed out".into()),
                    }
                }
            },
        };
        if let Err(e) = outcome {
            shared.set_status(&name, |s| {
                s.name = name.clone();
                s.address = peer.address.clone();
                s.connected = false;
                s.last_error = Some(e.clone());
            });
        }
        // Exponential backoff with jitter, bounded.
        let jitter = Duration::from_millis(u64::from(rand::random::<u8>()) % 100);
        tokio::select! {
            _ = tokio::time::sleep(backoff + jitter) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(3));
    }
}

/// Authenticates the peer and runs a sync session until the connection ends.
async fn connection(
    shared: Arc<Shared>,
    conn: quinn::Connection,
    expected: Option<NodeId>,
    label: String,
    dialer: bool,
) -> Result<(), String> {
    let remote = conn.remote_address().to_string();
    let peer_key = match rollmesh_net::peer_key(&conn) {
        Ok(k) => k,
        Err(e) => {
            conn.close(1u32.into(), b"bad certificate");
            return Err(format!("refused: bad_certificate ({e})"));
        }
    };
    let streams = if dialer {
        conn.open_bi().await
    } else {
        conn.accept_bi().await
    };
    let (mut send, recv) = streams.map_err(|e| e.to_string())?;
    let node = shared.node.clone();
    let revocations = node.store().revocations().unwrap_or_default();
    let hello = Msg::Auth {
        chain: shared.own_chain.clone(),
        revocations,
    };
    let mut bytes_out = 0u64;
    let mut bytes_in = 0u64;
    let mut messages = 0u64;
    let frame = hello.encode();
    bytes_out += frame.len() as u64 + 4;
    messages += 1;
    rollmesh_net::write_frame(&mut send, &frame)
        .await
        .map_err(|e| e.to_string())?;

    // Frames are read and decoded on their own task: reading is not cancel-safe inside select!.
    let (tx, mut rx) = mpsc::channel::<Result<(usize, Result<Msg, String>), String>>(16);
    let reader = tokio::spawn(async move {
        let mut recv = recv;
        loop {
            match rollmesh_net::read_frame(&mut recv).await {
                Ok(Some(f)) => {
                    let msg = Msg::decode(&f).map_err(|e| e.to_string());
                    if tx.send(Ok((f.len(), msg))).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string())).await;
                    return;
                }
            }
        }
    });
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    let auth = match first {
        Ok(Some(Ok((len, msg)))) => {
            bytes_in += len as u64 + 4;
            messages += 1;
            msg
        }
        Ok(Some(Err(e))) => Err(e),
        Ok(None) => Err("peer closed before authenticating".into()),
        Err(_) => Err("peer did not authenticate in time".into()),
    };
    let verdict = match auth {
        Ok(Msg::Auth { chain, revocations }) => {
            authenticate(&shared, peer_key, &chain, revocations, expected)
        }
        Ok(Msg::Bye { reason }) => Err(format!("peer refused us: {reason}")),
        Ok(_) => Err("refused: protocol (first message is not Auth)".into()),
        Err(e) => Err(e),
    };
    let chain = match verdict {
        Ok(c) => c,
        Err(reason) => {
            warn!(peer = %peer_key.node_id(), %remote, %reason, "refused peer");
            let bye = Msg::Bye {
                reason: reason.clone(),
            };
            let _ = rollmesh_net::write_frame(&mut send, &bye.encode()).await;
            let _ = send.finish();
            tokio::time::sleep(Duration::from_millis(50)).await;
            conn.close(2u32.into(), reason.as_bytes());
            reader.abort();
            shared.set_status(&label, |s| {
                s.name = label.clone();
                s.address = remote.clone();
                s.connected = false;
                s.last_error = Some(reason.clone());
            });
            return Err(reason);
        }
    };
    let Some(scope) = chain.unit().cloned() else {
        return Err("empty chain".into());
    };
    let key = label.clone();
    info!(peer = %peer_key.node_id(), unit = %scope, %remote, "peer authenticated");
    shared.set_status(&key, |s| {
        s.name = label.clone();
        s.address = remote.clone();
        s.node_id = peer_key.node_id().to_string();
        s.unit = scope.to_string();
        s.connected = true;
        s.last_error = None;
    });

    let mut log = PeerLog {
        node: &node,
        scope,
        peer: peer_key,
        sent_chains: HashSet::new(),
        sent_revs: HashSet::new(),
    };
    let checkpoint = node.store().checkpoint(&peer_key).unwrap_or((0, 0));
    let (mut session, first_effects) = Session::start(shared.now_ms(), checkpoint);
    let mut head_rx = shared.head.subscribe();
    let mut revs_rx = shared.revs.subscribe();
    let mut shutdown = shared.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut recheck = tokio::time::interval(Duration::from_secs(1));
    let source = format!("peer:{}", peer_key.node_id());
    let mut pending = first_effects;
    let mut end: Result<(), String> = Ok(());
    // Reconciliation state: as the puller (initiator) and as the served side.
    let mut recon_client: Option<Negentropy<'static, NegentropyStorageVector>> = None;
    let mut need_ids: Vec<Id> = Vec::new();
    let mut recon_server: Option<ServedRecon> = None;
    // The apply pipeline: batches handed out by the session, being prepared, prepared, being written.
    let mut to_prepare: VecDeque<Incoming> = VecDeque::new();
    let mut preparing: Option<Task<crate::node::PreparedAccept>> = None;
    let mut to_commit: VecDeque<(u64, u64, crate::node::PreparedAccept)> = VecDeque::new();
    let mut committing: Option<Task<crate::node::AcceptReport>> = None;
    'outer: loop {
        // Run effects (applying may produce more).
        while !pending.is_empty() {
            let e = pending.remove(0);
            match e {
                Effect::Send(m) => {
                    let f = m.encode();
                    bytes_out += f.len() as u64 + 4;
                    messages += 1;
                    if let Err(err) = rollmesh_net::write_frame(&mut send, &f).await {
                        end = Err(err.to_string());
                        break 'outer;
                    }
                }
                Effect::Reconcile { index: _ } => {
                    let (set, _) = state_set(&node, &log.scope);
                    if negentropy::NegentropyStorageBase::size(&set).unwrap_or(0) == 0 {
                        pending.extend(session.replay(shared.now_ms()));
                        continue;
                    }
                    let mut neg = match Negentropy::owned(set, 0) {
                        Ok(n) => n,
                        Err(e) => {
                            end = Err(format!("reconciliation: {e}"));
                            break 'outer;
                        }
                    };
                    let first = neg.initiate().unwrap_or_default();
                    need_ids.clear();
                    recon_client = Some(neg);
                    pending.push(Effect::Send(Msg::Recon { payload: first }));
                }
                Effect::Apply {
                    records,
                    index,
                    upto,
                } => to_prepare.push_back((records, index, upto)),
            }
        }
        // Batches are prepared one after the other and committed one after the other, in order; the
        // next batch is prepared while the previous one is being written, so both cores stay busy.
        if preparing.is_none() {
            if let Some((records, index, upto)) = to_prepare.pop_front() {
                let (n, src) = (node.clone(), source.clone());
                let task = tokio::task::spawn_blocking(move || n.prepare_records(records, &src));
                preparing = Some((index, upto, task));
            }
        }
        if committing.is_none() {
            if let Some((index, upto, prepared)) = to_commit.pop_front() {
                let n = node.clone();
                let task = tokio::task::spawn_blocking(move || n.commit_prepared(prepared));
                committing = Some((index, upto, task));
            }
        }
        shared.set_status(&key, |s| {
            s.changes_sent = session.stats.changes_sent;
            s.changes_received = session.stats.changes_received;
            s.backlog = session.backlog();
            s.applied_seq = session.checkpoint().1;
            s.messages = messages;
            s.bytes = bytes_in + bytes_out;
        });
        tokio::select! {
            done = async { (&mut preparing.as_mut().expect("guarded").2).await }, if preparing.is_some() => {
                let Some((index, upto, _)) = preparing.take() else { break };
                match done {
                    Ok(Ok(prepared)) => {
                        to_commit.push_back((index, upto, prepared));
                        pending = session.prepared(shared.now_ms());
                    }
                    Ok(Err(err)) => { end = Err(format!("applying: {err}")); break; }
                    Err(err) => { end = Err(format!("applying: {err}")); break; }
                }
            }
            done = async { (&mut committing.as_mut().expect("guarded").2).await }, if committing.is_some() => {
                let Some((index, upto, _)) = committing.take() else { break };
                match done {
                    Ok(Ok(report)) => {
                        if report.revocations > 0 {
                            shared.revs.send_modify(|v| *v += 1);
                        }
                    }
                    Ok(Err(err)) => { end = Err(format!("applying: {err}")); break; }
                    Err(err) => { end = Err(format!("applying: {err}")); break; }
                }
                if let Err(err) = node.store().set_checkpoint(&peer_key, index, upto) {
                    end = Err(format!("checkpoint: {err}"));
                    break;
                }
                shared.bump_head();
                pending = session.applied(shared.now_ms(), index, upto);
                shared.set_status(&key, |s| s.last_sync = Some(unix_now()));
            }
            frame = rx.recv() => match frame {
                Some(Ok((len, msg))) => {
                    bytes_in += len as u64 + 4;
                    messages += 1;
                    match msg {
                        Ok(Msg::Bye { reason }) => { end = Err(format!("peer closed: {reason}")); break; }
                        Ok(Msg::Recon { payload }) => {
                            if let Some(neg) = recon_client.as_mut() {
                                let mut have = Vec::new();
                                match neg.reconcile_with_ids(&payload, &mut have, &mut need_ids) {
                                    Ok(Some(next)) => pending = vec![Effect::Send(Msg::Recon { payload: next })],
                                    Ok(None) => {
                                        let ids = need_ids.drain(..).map(|i| *i.as_bytes()).collect();
                                        recon_client = None;
                                        session.wanted(shared.now_ms());
                                        pending = vec![Effect::Send(Msg::Want { ids })];
                                    }
                                    Err(e) => { end = Err(format!("reconciliation: {e}")); break; }
                                }
                            } else {
                                if recon_server.is_none() {
                                    let head = node.store().last_seq();
                                    let (set, map) = state_set(&node, &log.scope);
                                    match Negentropy::owned(set, 0) {
                                        Ok(n) => recon_server = Some((n, head, map)),
                                        Err(e) => { end = Err(format!("reconciliation: {e}")); break; }
                                    }
                                }
                                if let Some((neg, _, _)) = recon_server.as_mut() {
                                    match neg.reconcile(&payload) {
                                        Ok(reply) => pending = vec![Effect::Send(Msg::Recon { payload: reply })],
                                        Err(e) => { end = Err(format!("reconciliation: {e}")); break; }
                                    }
                                }
                            }
                        }
                        Ok(Msg::Want { ids }) => {
                            let (head_at, map) = match recon_server.take() {
                                Some((_, h, m)) => (h, m),
                                None => (node.store().last_seq(), HashMap::new()),
                            };
                            let mut records = Vec::new();
                            log.sent_chains.clear();
                            for id in ids.iter().filter_map(|h| map.get(h)) {
                                for (_, c) in node.store().history(id).unwrap_or_default() {
                                    log.push_change(&mut records, c);
                                }
                            }
                            pending = vec![Effect::Send(Msg::Batch {
                                index: node.store().index_id(),
                                from: 0,
                                upto: head_at,
                                head: node.store().last_seq(),
                                records,
                            })];
                        }
                        Ok(m) => pending = session.on_msg(shared.now_ms(), m, &mut log),
                        Err(e) => { end = Err(format!("undecodable message: {e}")); break; }
                    }
                }
                Some(Err(e)) => { end = Err(e); break; }
                None => { end = Err("connection closed".into()); break; }
            },
            _ = head_rx.changed() => pending = session.on_local_head(shared.now_ms(), &mut log),
            _ = revs_rx.changed() => pending = session.push_now(shared.now_ms(), &mut log),
            _ = tick.tick() => pending = session.on_tick(shared.now_ms(), &mut log),
            _ = recheck.tick() => {
                // A revocation learnt since the handshake ends the session.
                let revs = node.revocations().unwrap_or_default();
                if let Err(e) = chain.validate(&shared.root, unix_now(), &revs) {
                    let reason = format!("refused: {} ({e})", e.code());
                    warn!(peer = %peer_key.node_id(), %reason, "dropping peer");
                    let _ = rollmesh_net::write_frame(&mut send, &Msg::Bye { reason: reason.clone() }.encode()).await;
                    end = Err(reason);
                    break;
                }
            }
            _ = shutdown.changed() => {
                let _ = rollmesh_net::write_frame(&mut send, &Msg::Bye { reason: "shutdown".into() }.encode()).await;
                break;
            }
        }
    }
    reader.abort();
    conn.close(0u32.into(), b"bye");
    let err = end.as_ref().err().cloned();
    shared.set_status(&key, |s| {
        s.connected = false;
        s.last_error = err;
    });
    end
}

/// Checks a peer's Auth: its revocations are recorded first, then its chain must certify the TLS key,
/// reach our root, be valid now and unrevoked, and (for a configured peer) belong to the expected node.
fn authenticate(
    shared: &Shared,
    peer_key: NodePublicKey,
    chain_bytes: &[u8],
    revocations: Vec<Vec<u8>>,
    expected: Option<NodeId>,
) -> Result<Chain, String> {
    if let Some(exp) = expected {
        if peer_key.node_id() != exp {
            return Err(format!(
                "refused: unexpected_node (expected {exp}, found {})",
                peer_key.node_id()
            ));
        }
    }
    if !revocations.is_empty() {
        let records = revocations
            .into_iter()
            .map(|r| (TAG_REVOCATION, r))
            .collect();
        if let Ok(r) = shared.node.accept_records(records, "peer-auth") {
            if r.revocations > 0 {
                shared.revs.send_modify(|v| *v += 1);
            }
        }
    }
    if chain_bytes.is_empty() {
        return Err("refused: no_credential (the peer presented no credential)".into());
    }
    let chain =
        Chain::decode(chain_bytes).map_err(|e| format!("refused: malformed_credential ({e})"))?;
    if chain.subject() != Some(peer_key) {
        return Err("refused: key_mismatch (the TLS key is not the credential's key)".into());
    }
    let revs = shared.node.revocations().map_err(|e| e.to_string())?;
    chain
        .validate(&shared.root, unix_now(), &revs)
        .map_err(|e| format!("refused: {} ({e})", e.code()))?;
    // The chain is recorded when a batch brings it with the peer's changes, which also lets changes
    // quarantined for want of it be taken up again.
    Ok(chain)
}

async fn admin_server(shared: Arc<Shared>, data: PathBuf) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let path = crate::admin::socket_path(&data);
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, "admin socket unavailable");
            return;
        }
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(r);
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            let reply = match serde_json::from_str::<Value>(&line) {
                Ok(req) => tokio::task::block_in_place(|| admin_request(&shared, &req))
                    .unwrap_or_else(|e| json!({"error": e.to_string()})),
                Err(e) => json!({"error": format!("bad request: {e}")}),
            };
            let mut out = serde_json::to_vec(&reply).unwrap_or_default();
            out.push(b'\n');
            let _ = w.write_all(&out).await;
        });
    }
}

fn admin_request(shared: &Shared, req: &Value) -> Result<Value> {
    let node = &shared.node;
    let cmd = req["cmd"].as_str().unwrap_or("");
    match cmd {
        "status" => {
            let peers = shared
                .status
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            Ok(json!({
                "node_id": node.id().to_string(),
                "unit": node.unit().to_string(),
                "members": node.store().member_count(),
                "log_seq": node.store().last_seq(),
                "quarantined": node.store().quarantine_count(),
                "peers": peers.values().collect::<Vec<_>>(),
            }))
        }
        "member.add" => {
            let fields = crate::cli::fields_from_json(&req["fields"])?;
            let id = node.add_member(fields, Vec::new())?;
            node.audit("member.add", &id.to_string(), "via admin socket")?;
            shared.bump_head();
            Ok(crate::render::record_json(&node.record(&id)?))
        }
        "member.edit" => {
            let id = node.resolve(req["id"].as_str().unwrap_or(""))?;
            let edit = rollmesh_model::DossierEdit {
                set: crate::cli::fields_from_json(&req["fields"])?,
                ..Default::default()
            };
            let changed = node.edit_member(id, &edit)?;
            node.audit("member.edit", &id.to_string(), "via admin socket")?;
            shared.bump_head();
            Ok(
                json!({"changed": changed, "member": crate::render::record_json(&node.record(&id)?)}),
            )
        }
        "member.list" => {
            let unit = match req["unit"].as_str() {
                Some(u) => Some(UnitPath::parse(u)?),
                None => None,
            };
            let list = node.store().list(unit.as_ref())?;
            node.audit(
                "member.list",
                req["unit"].as_str().unwrap_or("*"),
                &format!("{} records via admin socket", list.len()),
            )?;
            Ok(json!({"members": list.iter().map(crate::render::record_json).collect::<Vec<_>>()}))
        }
        "member.show" => {
            let id = node.resolve(req["id"].as_str().unwrap_or(""))?;
            node.audit("member.show", &id.to_string(), "via admin socket")?;
            Ok(crate::render::record_json(&node.record(&id)?))
        }
        "credential.revoke" => {
            let id: Option<NodeId> = match req["node_id"].as_str() {
                Some(s) => Some(s.parse()?),
                None => None,
            };
            let serial = req["serial"].as_u64();
            let r = node.credential_revoke(id, serial)?;
            node.audit(
                "credential.revoke",
                &r.target.node_id().to_string(),
                "via admin socket",
            )?;
            shared.revs.send_modify(|v| *v += 1);
            Ok(
                json!({"revoked": r.target.node_id().to_string(), "unit": r.unit.to_string(),
                "serial": r.serial, "accepted_changes": r.accepted.len()}),
            )
        }
        other => anyhow::bail!("unknown admin command {other:?}"),
    }
}
