//! One peer connection: moves frames between QUIC and the sans-IO `Session`, runs its effects (checking
//! the peer's credential, applying batches through the engine's two-stage pipeline), and keeps `status`
//! up to date. Every call that touches the store runs on a blocking thread, never on an async worker.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rollmesh_engine::{AcceptReport, Node, NodeError, PeerLog, PreparedAccept};
use rollmesh_proto::{Chain, NodeId, NodePublicKey};
use rollmesh_sync::{Effect, EmptyLog, Log, Msg, Record, Session, SessionConfig, SyncError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{dialed_row, inbound_row, unix_now, PeerStatus, Shared};

/// A frame read from the peer: its length and the decoded message (or why it did not decode).
type Frame = Result<(usize, Result<Msg, String>), String>;

/// A blocking task of the apply pipeline, with the batch's index id and checkpoint.
type Task<T> = (u64, u64, JoinHandle<Result<T, NodeError>>);

/// Why the connection ends (the text goes to the log and `status`).
type End = String;

/// How long a peer has from the connection to the verdict on its credential.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// The largest frame read before the peer is authenticated (its `Auth`: a chain and revocations).
const MAX_AUTH_FRAME: usize = 8 << 20;

/// The apply pipeline: batches handed out by the session, being prepared, prepared, being written. The
/// next batch is prepared while the previous one is written, so both cores stay busy; both stages keep
/// the order the session handed the batches out in.
#[derive(Default)]
struct Pipeline {
    to_prepare: VecDeque<(Vec<Record>, u64, u64)>,
    preparing: Option<Task<PreparedAccept>>,
    to_commit: VecDeque<(u64, u64, PreparedAccept)>,
    committing: Option<Task<AcceptReport>>,
}

impl Pipeline {
    /// Starts the next stage of each kind that is idle.
    fn kick(&mut self, node: &Arc<Node>, source: &str) {
        if self.preparing.is_none() {
            if let Some((records, index, upto)) = self.to_prepare.pop_front() {
                let (n, src) = (node.clone(), source.to_string());
                let task = tokio::task::spawn_blocking(move || n.prepare_records(records, &src));
                self.preparing = Some((index, upto, task));
            }
        }
        if self.committing.is_none() {
            if let Some((index, upto, prepared)) = self.to_commit.pop_front() {
                let n = node.clone();
                let task = tokio::task::spawn_blocking(move || n.commit_prepared(prepared));
                self.committing = Some((index, upto, task));
            }
        }
    }
}

/// What woke the connection up.
enum Event {
    Prepared(u64, u64, Result<PreparedAccept, String>),
    Committed(u64, u64, Result<AcceptReport, String>),
    Frame(Option<Frame>),
    LocalHead,
    Revocations,
    Tick,
    Recheck,
    Shutdown,
}

fn joined<T>(r: Result<Result<T, NodeError>, tokio::task::JoinError>) -> Result<T, String> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("applying: {e}")),
        Err(e) => Err(format!("applying: {e}")),
    }
}

/// The state of one connection.
struct Conn<'a> {
    shared: &'a Shared,
    node: &'a Arc<Node>,
    peer_key: NodePublicKey,
    expected: Option<NodeId>,
    /// This connection's status row: the configured peer's from the start, or, for a peer that dialed
    /// in, its node id's once it is authenticated (none before: refused clients leave no row).
    row: Option<String>,
    /// This connection's number, written into its row when it takes the row over.
    session_id: u64,
    /// Whether we dialed (a configured peer) or the peer dialed us.
    dialer: bool,
    remote: String,
    send: quinn::SendStream,
    session: Session,
    /// The peer's view of our log, once it is authenticated.
    log: Option<PeerLog<'a>>,
    chain: Option<Chain>,
    pipeline: Pipeline,
    source: String,
    bytes: u64,
    messages: u64,
}

impl<'a> Conn<'a> {
    fn now(&self) -> u64 {
        self.shared.now_ms()
    }

    /// Updates this connection's status row, if it has one and no newer session of the peer took it over.
    fn set_status(&self, f: impl FnOnce(&mut PeerStatus)) {
        if let Some(row) = &self.row {
            self.shared.update_status(row, Some(self.session_id), f);
        }
    }

    /// Runs a session call with the peer's log on a blocking thread (the log reads the store).
    fn with_log<R>(&mut self, f: impl FnOnce(&mut Session, &mut dyn Log) -> R) -> R {
        let session = &mut self.session;
        let log = &mut self.log;
        tokio::task::block_in_place(move || match log.as_mut() {
            Some(l) => f(session, l),
            None => f(session, &mut EmptyLog),
        })
    }

    fn sync_step(
        &mut self,
        f: impl FnOnce(&mut Session, &mut dyn Log, u64) -> Result<Vec<Effect>, SyncError>,
    ) -> Result<Vec<Effect>, End> {
        let now = self.now();
        self.with_log(|s, l| f(s, l, now))
            .map_err(|e| e.to_string())
    }

    async fn write(&mut self, msg: &Msg) -> Result<(), End> {
        let frame = msg.encode().map_err(|e| format!("encoding: {e}"))?;
        self.bytes += frame.len() as u64 + 4;
        self.messages += 1;
        rollmesh_net::write_frame(&mut self.send, &frame)
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs effects in order; effects they produce run after them.
    async fn execute(&mut self, effects: Vec<Effect>) -> Result<(), End> {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(e) = queue.pop_front() {
            match e {
                Effect::Send(m) => self.write(&m).await?,
                Effect::Authenticate { chain, revocations } => {
                    queue.extend(self.authenticate(chain, revocations)?);
                }
                Effect::Apply {
                    records,
                    index,
                    upto,
                } => self.pipeline.to_prepare.push_back((records, index, upto)),
                Effect::Close { reason } => {
                    // Give the peer a moment to read our Bye before the connection closes.
                    let _ = self.send.finish();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    return Err(reason);
                }
            }
        }
        Ok(())
    }

    /// Checks the peer's credential (on a blocking thread: it may record revocations) and tells the
    /// session the verdict.
    fn authenticate(
        &mut self,
        chain: Vec<u8>,
        revocations: Vec<Vec<u8>>,
    ) -> Result<Vec<Effect>, End> {
        let (node, key, expected) = (self.node.clone(), self.peer_key, self.expected);
        let verdict = tokio::task::block_in_place(|| {
            node.authenticate_peer(key, &chain, revocations, expected)
                .and_then(|auth| {
                    let checkpoint = node.store().checkpoint(&key).map_err(NodeError::from)?;
                    Ok((auth, checkpoint))
                })
        });
        let (auth, checkpoint) = match verdict {
            Ok(v) => v,
            // Logged with the other handshake failures, once the Bye is sent.
            Err(refusal) => return Ok(self.session.refuse_peer(refusal.to_string())),
        };
        if auth.new_revocations > 0 {
            self.shared.revs.send_modify(|v| *v += 1);
        }
        info!(peer = %key.node_id(), unit = %auth.scope, remote = %self.remote, "peer authenticated");
        // A peer that dialed in gets its row now, keyed by its node id, so a reconnect reuses it.
        let row = self
            .row
            .get_or_insert_with(|| inbound_row(key.node_id()))
            .clone();
        let (session, remote, inbound) = (self.session_id, self.remote.clone(), !self.dialer);
        self.shared.set_status(&row, |s| {
            if inbound {
                s.name = key.node_id().to_string();
                s.address = remote;
            }
            s.session = session;
            s.node_id = key.node_id().to_string();
            s.unit = auth.scope.to_string();
            s.connected = true;
            s.last_error = None;
        });
        self.log = Some(PeerLog::new(self.node, key, auth.scope.clone()));
        self.chain = Some(auth.chain);
        self.sync_step(|s, l, now| s.accept_peer(now, checkpoint, l))
    }

    /// A revocation learnt since the handshake ends the session.
    fn recheck(&mut self) -> Vec<Effect> {
        let Some(chain) = self.chain.as_ref() else {
            return Vec::new();
        };
        match tokio::task::block_in_place(|| self.node.recheck_peer(chain)) {
            Ok(()) => Vec::new(),
            Err(refusal) => {
                let reason = refusal.to_string();
                warn!(peer = %self.peer_key.node_id(), %reason, "dropping peer");
                self.session.close(reason)
            }
        }
    }

    fn committed(
        &mut self,
        index: u64,
        upto: u64,
        report: AcceptReport,
    ) -> Result<Vec<Effect>, End> {
        if report.revocations > 0 {
            self.shared.revs.send_modify(|v| *v += 1);
        }
        let (node, key, shared) = (self.node.clone(), self.peer_key, self.shared);
        // The store's head is read under its lock, which a commit of another connection may hold.
        tokio::task::block_in_place(|| {
            node.store().set_checkpoint(&key, index, upto)?;
            shared.bump_head();
            Ok::<_, rollmesh_store::StoreError>(())
        })
        .map_err(|e| format!("checkpoint: {e}"))?;
        self.set_status(|s| s.last_sync = Some(unix_now()));
        let now = self.now();
        Ok(self.session.applied(now, index, upto))
    }

    fn on_frame(&mut self, frame: Option<Frame>) -> Result<Vec<Effect>, End> {
        match frame {
            Some(Ok((len, Ok(msg)))) => {
                self.bytes += len as u64 + 4;
                self.messages += 1;
                self.sync_step(|s, l, now| s.on_msg(now, msg, l))
            }
            Some(Ok((_, Err(e)))) => Err(format!("undecodable message: {e}")),
            Some(Err(e)) => Err(e),
            None => Err("connection closed".into()),
        }
    }

    async fn handle(&mut self, ev: Event) -> Result<Vec<Effect>, End> {
        match ev {
            Event::Prepared(index, upto, r) => {
                self.pipeline.to_commit.push_back((index, upto, r?));
                let now = self.now();
                Ok(self.session.prepared(now))
            }
            Event::Committed(index, upto, r) => self.committed(index, upto, r?),
            Event::Frame(f) => self.on_frame(f),
            Event::LocalHead => self.sync_step(|s, l, now| s.on_local_head(now, l)),
            Event::Revocations => self.sync_step(|s, l, now| s.push_now(now, l)),
            Event::Tick => self.sync_step(|s, l, now| s.on_tick(now, l)),
            Event::Recheck => Ok(self.recheck()),
            Event::Shutdown => Ok(self.session.close("shutdown")),
        }
    }

    fn show_status(&self) {
        let st = &self.session.stats;
        let (sent, received) = (st.changes_sent, st.changes_received);
        let (backlog, applied) = (self.session.backlog(), self.session.checkpoint().1);
        let (messages, bytes) = (self.messages, self.bytes);
        self.set_status(|s| {
            s.changes_sent = sent;
            s.changes_received = received;
            s.backlog = backlog;
            s.applied_seq = applied;
            s.messages = messages;
            s.bytes = bytes;
        });
    }

    /// The event loop: wait for whatever comes first, handle it, run the effects.
    async fn run(&mut self, rx: &mut mpsc::Receiver<Frame>) -> Result<(), End> {
        let mut head_rx = self.shared.head.subscribe();
        let mut revs_rx = self.shared.revs.subscribe();
        let mut shutdown = self.shared.shutdown.clone();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut recheck = tokio::time::interval(Duration::from_secs(1));
        loop {
            self.pipeline.kick(self.node, &self.source);
            self.show_status();
            let p = &mut self.pipeline;
            let ev = tokio::select! {
                r = async { (&mut p.preparing.as_mut().expect("guarded").2).await }, if p.preparing.is_some() => {
                    let (index, upto, _) = p.preparing.take().expect("guarded");
                    Event::Prepared(index, upto, joined(r))
                }
                r = async { (&mut p.committing.as_mut().expect("guarded").2).await }, if p.committing.is_some() => {
                    let (index, upto, _) = p.committing.take().expect("guarded");
                    Event::Committed(index, upto, joined(r))
                }
                f = rx.recv() => Event::Frame(f),
                _ = head_rx.changed() => Event::LocalHead,
                _ = revs_rx.changed() => Event::Revocations,
                _ = tick.tick() => Event::Tick,
                _ = recheck.tick() => Event::Recheck,
                _ = shutdown.changed() => Event::Shutdown,
            };
            let effects = self.handle(ev).await?;
            self.execute(effects).await?;
        }
    }
}

/// Reads and decodes frames on their own task: reading is not cancel-safe inside `select!`.
fn spawn_reader(recv: quinn::RecvStream) -> (JoinHandle<()>, mpsc::Receiver<Frame>) {
    let (tx, rx) = mpsc::channel::<Frame>(16);
    let task = tokio::spawn(async move {
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
    (task, rx)
}

/// Authenticates the peer and runs a sync session until the connection ends.
pub(super) async fn connection(
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
            let reason = format!("refused: bad_certificate ({e})");
            warn!(%remote, %reason, "refused peer");
            conn.close(1u32.into(), b"bad certificate");
            return Err(reason);
        }
    };
    let node = shared.node.clone();
    let session_id = shared.next_session();
    // A configured peer's row exists from the first attempt, so its refusals are shown with their reason;
    // a peer that dialed in has none until it is authenticated.
    let row = dialer.then(|| dialed_row(&label));
    if let Some(row) = &row {
        shared.set_status(row, |s| {
            s.name = label.clone();
            s.address = remote.clone();
            s.session = session_id;
        });
    }
    // One deadline from the stream's opening to the verdict on the peer's credential: a client that
    // never opens a stream, never reads our Auth or never sends its own is dropped when it runs out,
    // and until then at most one small frame of it is held in memory.
    let handshake = tokio::time::timeout(HANDSHAKE_DEADLINE, async {
        let streams = if dialer {
            conn.open_bi().await
        } else {
            conn.accept_bi().await
        };
        let (send, mut recv) = streams.map_err(|e| e.to_string())?;
        let revocations = {
            let n = node.clone();
            tokio::task::spawn_blocking(move || n.store().revocations())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("store: {e}"))?
        };
        let hello = Msg::Auth {
            chain: shared.own_chain.clone(),
            revocations,
        };
        let (session, first) = Session::start(shared.now_ms(), SessionConfig::default(), hello);
        let mut c = Conn {
            shared: &shared,
            node: &node,
            peer_key,
            expected,
            row: row.clone(),
            session_id,
            dialer,
            remote: remote.clone(),
            send,
            session,
            log: None,
            chain: None,
            pipeline: Pipeline::default(),
            source: format!("peer:{}", peer_key.node_id()),
            bytes: 0,
            messages: 0,
        };
        c.execute(first).await?;
        let frame = match rollmesh_net::read_frame_max(&mut recv, MAX_AUTH_FRAME).await {
            Ok(Some(f)) => Some(Ok((f.len(), Msg::decode(&f).map_err(|e| e.to_string())))),
            Ok(None) => None,
            Err(e) => Some(Err(format!("refused: protocol ({e})"))),
        };
        let effects = c.on_frame(frame)?;
        c.execute(effects).await?;
        Ok::<_, End>((c, recv))
    })
    .await;
    let (end, reader) = match handshake {
        Err(_) | Ok(Err(_)) => {
            let reason = match handshake {
                Ok(Err(reason)) => reason,
                _ => "refused: auth_timeout (no credential in time)".to_string(),
            };
            warn!(peer = %peer_key.node_id(), %remote, %reason, "no session with peer");
            (Err(reason), None)
        }
        Ok(Ok((mut c, recv))) => {
            let (reader, mut rx) = spawn_reader(recv);
            (c.run(&mut rx).await, Some(reader))
        }
    };
    let end = match end {
        Err(reason) if reason == "shutdown" => Ok(()),
        other => other,
    };
    if let Some(r) = reader {
        r.abort();
    }
    conn.close(0u32.into(), b"bye");
    let err = end.as_ref().err().cloned();
    // The row this session used, if it got one: the configured peer's, or the node id's of a peer that
    // dialed in and was authenticated (even if the session then failed inside the handshake's deadline).
    let key = row.unwrap_or_else(|| inbound_row(peer_key.node_id()));
    let mut rows = shared.status.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = rows.get_mut(&key) {
        if s.session == session_id {
            s.connected = false;
            s.last_error = err;
        } else if !dialer && !s.connected && err.is_some() {
            // A known peer (its key proven by TLS) refused this time, e.g. since its revocation: its
            // existing row says why. Unknown keys still leave nothing.
            s.last_error = err;
        }
    }
    drop(rows);
    end
}
