//! The local control socket of a running node (`<data>/admin.sock`, a Unix socket readable only through
//! the data directory's permissions). While `rollmesh run` holds the store, CLI commands that change or
//! read members, `status` and `credential revoke` go through it: one JSON request line, one JSON reply line.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rollmesh_model::Field;
use serde_json::Value;

/// The socket of a data directory.
pub fn socket_path(data: &Path) -> PathBuf {
    data.join("admin.sock")
}

/// Sends one request to the running node of `data` and returns its reply.
pub fn call(data: &Path, request: &Value) -> anyhow::Result<Value> {
    let path = socket_path(data);
    let mut s = UnixStream::connect(&path).map_err(|e| {
        let p = path.display();
        anyhow::anyhow!(rollmesh_engine::msg!(
            "không liên lạc được với nút đang chạy ({p}: {e}); nút có đang chạy (`rollmesh run`) không?",
            "cannot reach the running node at {p}: {e}; is it running (`rollmesh run`)?"
        ))
    })?;
    // The reply's errors come back in the caller's language.
    let mut request = request.clone();
    if let Some(o) = request.as_object_mut() {
        let lang = if rollmesh_engine::i18n::is_en() {
            "en"
        } else {
            "vi"
        };
        o.insert("lang".into(), Value::from(lang));
    }
    let request = &request;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    s.write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    let v: Value = serde_json::from_str(&reply)?;
    if let Some(err) = v.get("error").and_then(Value::as_str) {
        anyhow::bail!("{err}");
    }
    Ok(v)
}

/// Field values from a JSON object of field keys (used by `member add --from-json` and the admin socket).
pub fn fields_from_json(v: &serde_json::Value) -> anyhow::Result<BTreeMap<Field, String>> {
    let mut out = BTreeMap::new();
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            let f = Field::from_key(k)?;
            let s = val
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| val.to_string());
            out.insert(f, f.normalize(&s)?);
        }
    }
    Ok(out)
}

/// True when opening the node failed because a running node holds its data directory (then requests go
/// through that node's admin socket).
pub fn held_by_daemon(e: &anyhow::Error, data: &Path) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<rollmesh_engine::NodeError>(),
            Some(rollmesh_engine::NodeError::Store(
                rollmesh_store::StoreError::Locked
            ))
        )
    }) && socket_path(data).exists()
}
