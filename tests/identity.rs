//! Outside QUIC clients against a running node: one without a client certificate, one with a
//! self-signed certificate and no credential, and one that presents another node's (public) chain over
//! its own key. Each is refused, and the node's log names the reason.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rollmesh::demo::Mesh;
use rollmesh::Node;
use rollmesh_model::OrgTree;
use rollmesh_sync::Msg;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

const STEP: Duration = Duration::from_secs(10);

/// A client that takes any server certificate: the attacker does not care who the server is.
#[derive(Debug)]
struct AnyServer;

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

async fn without_certificate(node: SocketAddr) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer))
        .with_no_client_auth();
    tls.alpn_protocols = vec![rollmesh_net::ALPN.to_vec()];
    let tls = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls");
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client");
    ep.set_default_client_config(quinn::ClientConfig::new(Arc::new(tls)));
    let connecting = ep.connect(node, "rollmesh").expect("connect");
    if let Ok(Ok(conn)) = tokio::time::timeout(STEP, connecting).await {
        // TLS 1.3 may let the client finish first; the server then closes the connection.
        let _ = tokio::time::timeout(STEP, conn.closed()).await;
    }
    ep.close(0u32.into(), b"done");
}

/// Connects with the node key `seed` and presents `chain`; returns the node's `Bye` reason.
async fn with_key(node: SocketAddr, seed: [u8; 32], chain: Vec<u8>) -> String {
    let id = rollmesh_net::Identity::from_seed(&seed).expect("identity");
    let ep = rollmesh_net::endpoint(&id, "127.0.0.1:0".parse().expect("addr")).expect("endpoint");
    let conn = tokio::time::timeout(STEP, ep.connect(node, "rollmesh").expect("connect"))
        .await
        .expect("in time")
        .expect("the TLS handshake itself succeeds: the key is well formed");
    let (mut send, mut recv) = conn.open_bi().await.expect("stream");
    let auth = Msg::Auth {
        chain,
        revocations: Vec::new(),
    };
    rollmesh_net::write_frame(&mut send, &auth.encode().expect("encode"))
        .await
        .expect("write");
    let mut reason = String::new();
    for _ in 0..4 {
        let Ok(Ok(Some(f))) = tokio::time::timeout(STEP, rollmesh_net::read_frame(&mut recv)).await
        else {
            break;
        };
        match Msg::decode(&f).expect("decode") {
            Msg::Bye { reason: r } => {
                reason = r;
                break;
            }
            Msg::Auth { .. } => continue,
            other => panic!("an unauthenticated peer was sent {other:?}"),
        }
    }
    conn.close(0u32.into(), b"done");
    ep.wait_idle().await;
    reason
}

/// Connects with a well-formed self-signed key and then: with `frame = None`, opens no stream at all;
/// with `Some(n)`, opens the stream and announces a first frame of `n` bytes without sending them.
/// Returns how long the node kept the connection open.
async fn stall(node: SocketAddr, seed: [u8; 32], frame: Option<u32>) -> Duration {
    let id = rollmesh_net::Identity::from_seed(&seed).expect("identity");
    let ep = rollmesh_net::endpoint(&id, "127.0.0.1:0".parse().expect("addr")).expect("endpoint");
    let start = Instant::now();
    let conn = tokio::time::timeout(STEP, ep.connect(node, "rollmesh").expect("connect"))
        .await
        .expect("in time")
        .expect("handshake");
    let mut held = Vec::new();
    if let Some(n) = frame {
        let (mut send, recv) = conn.open_bi().await.expect("stream");
        send.write_all(&n.to_be_bytes()).await.expect("write");
        held.push((send, recv));
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), conn.closed()).await;
    let kept = start.elapsed();
    ep.close(0u32.into(), b"done");
    kept
}

fn wait_for_log(log: &Path, needle: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < STEP {
        if std::fs::read_to_string(log).is_ok_and(|t| t.contains(needle)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn outside_clients_are_refused_with_a_named_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let tree = OrgTree::from_toml(rollmesh::org::DEMO_TREE).expect("tree");
    let mut mesh = Mesh::create(&support::bin(), dir.path(), &tree).expect("mesh");
    let ward = mesh.index("hn.d01.w01");
    let cell = mesh.index("hn.d01.w01.c01");
    let victim_chain = {
        let n = Node::open(&mesh.nodes[cell].data).expect("open cell");
        n.own_chain().expect("chain").expect("installed").encode()
    };
    mesh.start(ward).expect("start");
    let data = mesh.nodes[ward].data.clone();
    let addr_file = data.join("listen.addr");
    assert!(wait_for_log(&addr_file, ":"), "the node listens");
    let addr: SocketAddr = std::fs::read_to_string(&addr_file)
        .expect("addr")
        .trim()
        .parse()
        .expect("parse");
    let log = data.join("node.log");
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    rt.block_on(without_certificate(addr));
    assert!(
        wait_for_log(&log, "no_client_certificate"),
        "a client without a certificate is logged by name:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let reason = rt.block_on(with_key(addr, [7u8; 32], Vec::new()));
    assert!(reason.contains("no_credential"), "{reason}");
    assert!(wait_for_log(&log, "refused: no_credential"), "logged");

    // The cell's chain is public; presenting it over another key does not make us the cell.
    let reason = rt.block_on(with_key(addr, [8u8; 32], victim_chain));
    assert!(reason.contains("key_mismatch"), "{reason}");
    assert!(wait_for_log(&log, "refused: key_mismatch"), "logged");

    // Before its credential is checked a peer gets one small frame and ten seconds, no more.
    let kept = rt.block_on(stall(addr, [9u8; 32], Some(64 << 20)));
    assert!(
        kept < Duration::from_secs(5),
        "a 64 MiB Auth is refused at once ({kept:?})"
    );
    assert!(wait_for_log(&log, "too large"), "logged");
    let kept = rt.block_on(stall(addr, [10u8; 32], None));
    assert!(
        kept >= Duration::from_secs(9) && kept < Duration::from_secs(20),
        "a client that opens no stream is dropped at the deadline ({kept:?})"
    );
    assert!(wait_for_log(&log, "auth_timeout"), "logged");
    mesh.stop_all();
}

/// Like [`with_key`] with no credential; returns the client's own address (what the node sees) and the
/// node's `Bye` reason.
async fn refused_from(node: SocketAddr, seed: [u8; 32]) -> (SocketAddr, String) {
    let id = rollmesh_net::Identity::from_seed(&seed).expect("identity");
    let ep = rollmesh_net::endpoint(&id, "127.0.0.1:0".parse().expect("addr")).expect("endpoint");
    let local = ep.local_addr().expect("local addr");
    let conn = tokio::time::timeout(STEP, ep.connect(node, "rollmesh").expect("connect"))
        .await
        .expect("in time")
        .expect("handshake");
    let (mut send, mut recv) = conn.open_bi().await.expect("stream");
    let auth = Msg::Auth {
        chain: Vec::new(),
        revocations: Vec::new(),
    };
    rollmesh_net::write_frame(&mut send, &auth.encode().expect("encode"))
        .await
        .expect("write");
    let mut reason = String::new();
    for _ in 0..4 {
        let Ok(Ok(Some(f))) = tokio::time::timeout(STEP, rollmesh_net::read_frame(&mut recv)).await
        else {
            break;
        };
        if let Ok(Msg::Bye { reason: r }) = Msg::decode(&f) {
            reason = r;
            break;
        }
    }
    conn.close(0u32.into(), b"done");
    let _ = tokio::time::timeout(STEP, ep.wait_idle()).await;
    (local, reason)
}

/// The status rows of a running node.
fn status_peers(mesh: &Mesh, i: usize) -> Vec<serde_json::Value> {
    mesh.admin(i, &serde_json::json!({"cmd": "status"}))
        .expect("status")["peers"]
        .as_array()
        .expect("peers")
        .clone()
}

/// Refused clients do not pile up in `status`: only configured peers and authenticated ones have a row,
/// and a peer that reconnects keeps its one row.
#[test]
fn refused_clients_leave_no_status_rows() {
    let dir = tempfile::tempdir().expect("tmp");
    let tree = OrgTree::from_toml(rollmesh::org::DEMO_TREE).expect("tree");
    let mut mesh = Mesh::create(&support::bin(), dir.path(), &tree).expect("mesh");
    let ward = mesh.index("hn.d01.w01");
    let cell = mesh.index("hn.d01.w01.c01");
    mesh.start(ward).expect("start");
    let data = mesh.nodes[ward].data.clone();
    let addr_file = data.join("listen.addr");
    assert!(wait_for_log(&addr_file, ":"), "the node listens");
    let addr: SocketAddr = std::fs::read_to_string(&addr_file)
        .expect("addr")
        .trim()
        .parse()
        .expect("parse");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut clients = Vec::new();
    for i in 0..30u8 {
        let (from, reason) = rt.block_on(refused_from(addr, [100 + i; 32]));
        assert!(reason.contains("no_credential"), "{i}: {reason}");
        clients.push(from.to_string());
    }
    // The district is not running: the ward's row for it, its configured parent, says why (a dial
    // times out after five seconds).
    mesh.wait_until(Duration::from_secs(30), |m| {
        status_peers(m, ward)
            .iter()
            .any(|p| p["name"] == "hn.d01" && p["last_error"].is_string())
    })
    .expect("the configured parent's row names its error");
    let peers = status_peers(&mesh, ward);
    let strays: Vec<&str> = peers
        .iter()
        .filter(|p| p["name"] != "hn.d01")
        .filter_map(|p| p["address"].as_str())
        .collect();
    assert!(
        strays.is_empty(),
        "{} rows besides the parent's, {} of them refused clients: {strays:?}",
        strays.len(),
        strays
            .iter()
            .filter(|a| clients.iter().any(|c| c == *a))
            .count()
    );
    assert_eq!(peers.len(), 1, "only the configured parent: {peers:?}");

    // A cell that authenticates gets one row, named by its node id, and keeps it across reconnects.
    let cell_id = Node::read_id(&mesh.nodes[cell].data)
        .expect("cell id")
        .to_string();
    let rows_of_cell = |m: &Mesh| -> Vec<serde_json::Value> {
        status_peers(m, ward)
            .into_iter()
            .filter(|p| p["unit"] == "hn.d01.w01.c01")
            .collect()
    };
    for round in 0..2 {
        mesh.start(cell).expect("start cell");
        mesh.wait_until(Duration::from_secs(60), |m| {
            rows_of_cell(m).iter().any(|p| p["connected"] == true)
        })
        .unwrap_or_else(|e| panic!("round {round}: the cell connects: {e}\n{}", mesh.report()));
        let rows = rows_of_cell(&mesh);
        assert_eq!(rows.len(), 1, "round {round}: {rows:?}");
        assert_eq!(rows[0]["node_id"], cell_id.as_str());
        mesh.stop(cell, false);
        mesh.wait_until(Duration::from_secs(30), |m| {
            rows_of_cell(m).iter().all(|p| p["connected"] == false)
        })
        .unwrap_or_else(|e| panic!("round {round}: the session ends: {e}"));
    }
    assert_eq!(
        status_peers(&mesh, ward).len(),
        2,
        "the parent and the cell"
    );
    mesh.stop_all();
}
