//! `node.toml`: the settings a data directory keeps, read and written in one place.

use std::fs;
use std::io::Write;
use std::path::Path;

use rollmesh_proto::NodePublicKey;
use serde::{Deserialize, Serialize};

use crate::error::io_err;
use crate::node::CONFIG_FILE;
use crate::NodeError;

/// The settings kept in a data directory's `node.toml` (documented in `config/node.example.toml`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// The organisation's root public key (hex). When set, changes are accepted by credential chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_key: Option<String>,
    /// The data directory, when the settings file lives elsewhere (relative to the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The UDP address `rollmesh run` listens on for QUIC (e.g. "127.0.0.1:7401"; port 0 = any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Peers this node dials (its parent first); it also accepts any authorised peer that dials it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerSettings>,
    /// A credential chain file to present instead of the installed one (for tests and recovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_file: Option<String>,
    /// The time zone times are shown in, an IANA name (default "Asia/Ho_Chi_Minh").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The local HTTP API and web console (`[api]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiSettings>,
}

/// The local HTTP API of `rollmesh run` (`[api]` in `node.toml`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// The TCP address it listens on (default "127.0.0.1:0", any free port; the address is written to
    /// `api.addr`). An address beyond this machine needs `tls_cert` and `tls_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// A PEM certificate chain for HTTPS (relative to the data directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    /// The PEM private key of `tls_cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
    /// Minutes a session lasts without use (default 480).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_minutes: Option<u64>,
}

/// One peer to dial.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    /// Its QUIC address, e.g. "127.0.0.1:7400".
    pub address: String,
    /// Its expected node id; the connection is refused if another node answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// A name for status output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl NodeSettings {
    /// The settings of the data directory `dir` (defaults when it has no `node.toml`), read without
    /// opening the node (a running node may hold its store).
    pub fn read(dir: &Path) -> Result<NodeSettings, NodeError> {
        read_settings(dir)
    }
}

pub(crate) fn read_settings(dir: &Path) -> Result<NodeSettings, NodeError> {
    let path = dir.join(CONFIG_FILE);
    if !path.exists() {
        return Ok(NodeSettings::default());
    }
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    let s: NodeSettings = toml::from_str(&text).map_err(|e| NodeError::Config {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    if let Some(k) = &s.root_key {
        if NodePublicKey::from_hex(k).is_none() {
            return Err(NodeError::Config {
                path,
                detail: "root_key is not 64 hex characters".into(),
            });
        }
    }
    Ok(s)
}

pub(crate) fn write_settings(dir: &Path, s: &NodeSettings) -> Result<(), NodeError> {
    let path = dir.join(CONFIG_FILE);
    let body = toml::to_string(s).map_err(|e| NodeError::Internal(e.to_string()))?;
    let text = format!(
        "# rollmesh node settings; every key is described in config/node.example.toml\n{body}"
    );
    // Mode 0600 whatever the umask (a new file), and for a file an older version left wider.
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path).map_err(io_err(&path))?;
    crate::node::set_mode(&path, 0o600)?;
    f.write_all(text.as_bytes()).map_err(io_err(&path))
}
