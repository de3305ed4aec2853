//! `rollmesh run`: the node daemon. It listens on QUIC, dials its configured peers with backoff, checks
//! every peer's credential chain after the TLS handshake, and runs one sync session per connection (the
//! pure state machine of `rollmesh-sync`), applying what arrives through the same authority checks as
//! bundles and pushing its own new changes to every connected peer whose scope covers them.

mod connection;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rollmesh_engine::{Node, NodeSettings, PeerSettings};
use rollmesh_proto::{Chain, NodeId};
use serde::Serialize;
use tokio::sync::watch;
use tracing::{info, warn};

use connection::connection;

/// What `status` shows for one peer. Only two kinds of peer have a row: the peers this node dials (from
/// its configuration, whatever happens to the connection, so a refusal is shown with its reason), and
/// peers that dialed in and were authenticated, one row per node id however often they reconnect. A
/// connection refused before its credential is accepted leaves no row (it is logged), so refused
/// clients cannot fill the table.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerStatus {
    /// The peer's name from the configuration, or the node id of a peer that dialed in.
    pub name: String,
    /// Its address (for dialed peers) or where its last session came from.
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
    /// The session that last took the row over: an older session of the same peer ending late does not
    /// mark a newer one disconnected.
    #[serde(skip)]
    session: u64,
}

/// The status row of a configured peer.
fn dialed_row(name: &str) -> String {
    format!("dial {name}")
}

/// The status row of an authenticated peer that dialed in.
fn inbound_row(id: NodeId) -> String {
    format!("peer {id}")
}

struct Shared {
    node: Arc<Node>,
    own_chain: Vec<u8>,
    head: watch::Sender<u64>,
    revs: watch::Sender<u64>,
    status: Mutex<BTreeMap<String, PeerStatus>>,
    /// Numbers connections, for [`PeerStatus::session`].
    sessions: std::sync::atomic::AtomicU64,
    shutdown: watch::Receiver<bool>,
    started: Instant,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Creates or updates a row.
    fn set_status(&self, key: &str, f: impl FnOnce(&mut PeerStatus)) {
        let mut m = self.status.lock().unwrap_or_else(|p| p.into_inner());
        f(m.entry(key.to_string()).or_default());
    }

    /// Updates a row only if it exists and, with `session`, belongs to that session.
    fn update_status(&self, key: &str, session: Option<u64>, f: impl FnOnce(&mut PeerStatus)) {
        let mut m = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = m.get_mut(key) {
            if session.is_none_or(|id| s.session == id) {
                f(s);
            }
        }
    }

    fn next_session(&self) -> u64 {
        self.sessions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
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

/// Makes a file the daemon created in the data directory readable and writable by its owner only, like
/// everything else there (the directory itself is 0700 already).
fn set_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            warn!(path = %path.display(), error = %e, "could not make the file private");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
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
    node.root()
        .context("rollmesh run needs a root key in node.toml (root_key)")?;
    let own_chain = match &settings.credential_file {
        Some(f) => {
            Chain::from_file(&std::fs::read(data.join(f)).with_context(|| f.clone())?)?.encode()
        }
        // A node without a credential presents none, and its peers refuse it with that reason.
        None => match tokio::task::block_in_place(|| node.own_chain())? {
            Some(c) => c.encode(),
            None => Vec::new(),
        },
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
        own_chain,
        head: head_tx,
        revs: revs_tx,
        status: Mutex::new(BTreeMap::new()),
        sessions: Default::default(),
        shutdown: shutdown_rx,
        started: Instant::now(),
    });
    // The address file lets launchers and tests find a node started on port 0.
    let addr_file = data.join("listen.addr");
    std::fs::write(&addr_file, format!("{local}\n"))?;
    set_private(&addr_file);
    info!(node = %node.id(), unit = %node.unit(), %local, "rollmesh node listening");

    crate::ops::clean_scratch(&data);
    let hooks = {
        let (w, st) = (shared.clone(), shared.clone());
        crate::api::Hooks {
            on_write: Box::new(move |req| {
                if req["cmd"].as_str() == Some("credential.revoke") {
                    w.revs.send_modify(|v| *v += 1);
                }
                w.bump_head();
            }),
            status: Box::new(move || status_json(&st)),
        }
    };
    let (api_url, api) = crate::api::start(node.clone(), &data, &settings, hooks).await?;
    info!(%api_url, "console and API");
    {
        use std::io::Write;
        let line = rollmesh_engine::msg!(
            "Bảng điều khiển và API: {api_url}/",
            "Console and API: {api_url}/"
        );
        let _ = writeln!(std::io::stdout(), "{line}");
    }
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
                        Err(e) => {
                            warn!(%from, reason = rollmesh_net::describe_handshake_error(&e), error = %e, "handshake failed")
                        }
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
    api.abort();
    for d in dialers {
        d.abort();
    }
    crate::api::remove_addr(&data);
    let _ = std::fs::remove_file(data.join("listen.addr"));
    Ok(())
}

/// The `status` reply: the node and one row per peer.
fn status_json(shared: &Shared) -> serde_json::Value {
    let peers = shared
        .status
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let node = &shared.node;
    serde_json::json!({
        "node_id": node.id().to_string(),
        "unit": node.unit().to_string(),
        "members": node.store().member_count(),
        "log_seq": node.store().last_seq(),
        "quarantined": node.store().quarantine_count(),
        "peers": peers.values().collect::<Vec<_>>(),
    })
}

/// Ctrl-C, or SIGTERM where there are signals.
#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Ctrl-C or SIGTERM.
#[cfg(unix)]
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

async fn dial_loop(shared: Arc<Shared>, ep: quinn::Endpoint, peer: PeerSettings) {
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
            shared.set_status(&dialed_row(&name), |s| {
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
