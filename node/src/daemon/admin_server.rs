//! The admin socket's server side: the CLI reaches a running node through it (member add/edit/list/show,
//! credential revoke, status, and every request of `crate::ops`: meetings, dues, ledgers, screening). Requests are handled on a blocking thread.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use rollmesh_model::{Field, UnitPath};
use rollmesh_proto::NodeId;
use serde_json::{json, Value};
use tracing::warn;

use super::Shared;

pub(super) async fn admin_server(shared: Arc<Shared>, data: PathBuf) {
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
    // Whoever can connect can read and write member data: the owner only.
    super::set_private(&path);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        // Who is asking: the local account on the other end of the socket, as the kernel says.
        let user = stream
            .peer_cred()
            .map(|c| user_name(c.uid()))
            .unwrap_or_else(|_| "?".to_string());
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(r);
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            let reply = match serde_json::from_str::<Value>(&line) {
                Ok(req) => {
                    let en = req["lang"].as_str() == Some("en");
                    tokio::task::block_in_place(|| {
                        rollmesh_engine::credentials::as_user(&user, || {
                            admin_request(&shared, &req)
                        })
                    })
                    .unwrap_or_else(|e| json!({"error": crate::render::explain_lang(&e, en)}))
                }
                Err(e) => json!({"error": format!("bad request: {e}")}),
            };
            let mut out = serde_json::to_vec(&reply).unwrap_or_default();
            out.push(b'\n');
            let _ = w.write_all(&out).await;
        });
    }
}

/// The login name of a local account (from /etc/passwd), else `uid <n>`.
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let _ = f.next();
                (f.next()? == uid.to_string()).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
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
            let mut fields = crate::admin::fields_from_json(&req["fields"])?;
            if let Some(u) = req["unit"].as_str() {
                fields.insert(Field::Unit, node.resolve_unit(u)?.to_string());
            }
            let id = node.add_member(fields, Vec::new())?;
            node.audit("member.add", &id.to_string(), "via admin socket")?;
            shared.bump_head();
            Ok(crate::render::record_json(&node.record(&id)?))
        }
        "member.edit" => {
            let id = node.resolve(req["id"].as_str().unwrap_or(""))?;
            let mut edit = rollmesh_model::DossierEdit {
                set: crate::admin::fields_from_json(&req["fields"])?,
                ..Default::default()
            };
            if let Some(u) = req["unit"].as_str() {
                edit.set
                    .insert(Field::Unit, node.resolve_unit(u)?.to_string());
            }
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
            // A serial that is there but not a number is a mistake, not "every credential".
            let serial = match &req["serial"] {
                Value::Null => None,
                v => Some(
                    v.as_u64()
                        .ok_or_else(|| anyhow::anyhow!("serial: not a credential number"))?,
                ),
            };
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
        _ => {
            let reply = crate::ops::handle(node, req, "admin socket")?;
            if crate::ops::writes(req) {
                shared.bump_head();
            }
            Ok(reply)
        }
    }
}
