//! The node's local HTTP API: every request of [`crate::ops`] at its own route, described by an OpenAPI
//! document generated from the handlers (`GET /api/openapi.json`), for the CLI while the node runs, the
//! web console and other systems (the cadre-management software polls `GET /api/changes`).
//!
//! Who may call: a clerk signed in with an account of this node (`POST /api/login`: a session cookie,
//! HttpOnly and SameSite=Strict, whose writes must also carry the session's `X-CSRF-Token`, or the same
//! session as a bearer token), or the node's owner presenting `<data>/api.token` (0600) as a bearer token,
//! as the CLI does. Each route needs a role ([`crate::ops::role_for`]); every read of member data and
//! every write is audited under the person's name, and a dossier change names the person in its signed
//! message. The API listens on 127.0.0.1 unless configured otherwise, and only with TLS beyond it.

pub mod auth;
mod routes;
mod tls;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rollmesh_engine::{msg, Node};
use serde_json::Value;
use tracing::info;

pub use auth::ApiState;

pub use crate::client::{read_addr, ADDR_FILE};

/// Hooks the daemon gives the API: what to do after a write, and its per-peer status.
pub struct Hooks {
    /// Called after a request that wrote signed changes (or a revocation).
    pub on_write: Box<dyn Fn(&Value) + Send + Sync>,
    /// The `status` reply (per-peer sync state).
    pub status: Box<dyn Fn() -> Value + Send + Sync>,
}

/// The API settings of `node.toml` (`[api]`).
pub fn listen_addr(settings: &rollmesh_engine::NodeSettings) -> Result<SocketAddr> {
    let api = settings.api.clone().unwrap_or_default();
    let text = api.listen.as_deref().unwrap_or("127.0.0.1:0");
    let addr: SocketAddr = text.parse().with_context(|| {
        msg!(
            "api.listen {text:?} không phải địa chỉ dạng 127.0.0.1:8480",
            "api.listen {text:?} is not an address like 127.0.0.1:8480"
        )
    })?;
    if !addr.ip().is_loopback() && (api.tls_cert.is_none() || api.tls_key.is_none()) {
        bail!(msg!(
            "API chỉ mở ra ngoài máy ({addr}) khi có TLS: đặt api.tls_cert và api.tls_key, hoặc dùng 127.0.0.1",
            "the API listens beyond this machine ({addr}) only with TLS: set api.tls_cert and api.tls_key, or use 127.0.0.1"
        ));
    }
    Ok(addr)
}

/// Starts the API for `node` (data directory `data`): binds, writes the address file and the owner's
/// token, and serves until the returned task is aborted. Returns the bound address and the task.
pub async fn start(
    node: Arc<Node>,
    data: &Path,
    settings: &rollmesh_engine::NodeSettings,
    hooks: Hooks,
) -> Result<(String, tokio::task::JoinHandle<()>)> {
    let addr = listen_addr(settings)?;
    let api = settings.api.clone().unwrap_or_default();
    let token = rollmesh_engine::accounts::owner_token(data)?;
    let tls = match (&api.tls_cert, &api.tls_key) {
        (Some(c), Some(k)) => Some(tls::config(&data.join(c), &data.join(k))?),
        _ => None,
    };
    let state = Arc::new(ApiState::new(
        node,
        data.to_path_buf(),
        token,
        api.session_minutes.unwrap_or(480),
        tls.is_some(),
        hooks,
    ));
    let app = routes::router(state);
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        msg!(
            "không mở được cổng API {addr}",
            "cannot bind the API to {addr}"
        )
    })?;
    let local = listener.local_addr()?;
    let url = match &tls {
        Some(_) => format!("https://{local}"),
        None => format!("http://{local}"),
    };
    if tls.is_none() {
        write_addr(data, &url)?;
    }
    info!(%url, "API listening");
    let task = match tls {
        Some(cfg) => {
            // The CLI on this machine reaches the node over plain HTTP on loopback, which only local
            // users can reach; the address file names that one.
            let local_plain = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            write_addr(data, &format!("http://{}", local_plain.local_addr()?))?;
            let app2 = app.clone();
            tokio::spawn(async move {
                let plain = tokio::spawn(async move {
                    let _ = axum::serve(local_plain, app2).await;
                });
                let _ = axum::serve(tls::Listener::new(listener, cfg), app).await;
                plain.abort();
            })
        }
        None => tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }),
    };
    Ok((url, task))
}

fn write_addr(data: &Path, url: &str) -> Result<()> {
    use std::io::Write;
    let path = data.join(ADDR_FILE);
    let _ = std::fs::remove_file(&path);
    let mut f = rollmesh_engine::csv_import::create_private_file(&path)
        .with_context(|| path.display().to_string())?;
    f.write_all(format!("{url}\n").as_bytes())?;
    Ok(())
}

/// Removes the address file at shutdown.
pub fn remove_addr(data: &Path) {
    let _ = std::fs::remove_file(data.join(ADDR_FILE));
}

/// The OpenAPI document, as the node serves it.
pub fn openapi_json() -> String {
    routes::openapi_json()
}
