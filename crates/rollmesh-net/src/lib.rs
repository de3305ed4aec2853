//! QUIC transport for rollmesh: TLS 1.3 identities derived from node keys (a self-signed certificate over
//! the node's own ed25519 key), ALPN `rollmesh/1`, and length-prefixed frames on a stream.
//!
//! TLS proves that the peer holds the private key of the public key in its certificate. Whether that key
//! may take part is decided after the handshake from its credential chain (by the node), so the verifiers
//! here accept any well-formed ed25519 certificate and check only the handshake signature.

use std::net::SocketAddr;
use std::sync::Arc;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use rollmesh_proto::NodePublicKey;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// The ALPN protocol id.
pub const ALPN: &[u8] = b"rollmesh/1";
/// Largest frame accepted (64 MiB).
pub const MAX_FRAME: usize = 64 << 20;
/// The DER prefix of an ed25519 SubjectPublicKeyInfo; the 32 key bytes follow it.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Transport errors.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Building the certificate or TLS configuration failed.
    #[error("tls setup: {0}")]
    Tls(String),
    /// Binding the socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A frame was larger than allowed.
    #[error("frame of {0} bytes is too large")]
    FrameTooLarge(usize),
    /// Reading or writing the stream failed.
    #[error("stream: {0}")]
    Stream(String),
}

fn provider() -> Arc<CryptoProvider> {
    // One provider, chosen explicitly: rustls refuses to guess when several are compiled in.
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The public key in an ed25519 certificate.
pub fn cert_key(cert: &[u8]) -> Option<NodePublicKey> {
    let at = cert
        .windows(ED25519_SPKI_PREFIX.len())
        .position(|w| w == ED25519_SPKI_PREFIX)?;
    let start = at + ED25519_SPKI_PREFIX.len();
    let key: [u8; 32] = cert.get(start..start + 32)?.try_into().ok()?;
    Some(NodePublicKey(key))
}

/// The public key a connected peer proved in the TLS handshake.
pub fn peer_key(conn: &quinn::Connection) -> Option<NodePublicKey> {
    let any = conn.peer_identity()?;
    let certs = any.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    certs.first().and_then(|c| cert_key(c.as_ref()))
}

/// A node's TLS identity: a self-signed certificate over its ed25519 key.
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    /// Derives the identity from the node key's 32-byte secret seed.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Identity, NetError> {
        let signing = ed25519_dalek::SigningKey::from_bytes(seed);
        let der = signing
            .to_pkcs8_der()
            .map_err(|e| NetError::Tls(e.to_string()))?;
        let pkcs8 = PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
        let kp = rcgen::KeyPair::try_from(&pkcs8).map_err(|e| NetError::Tls(e.to_string()))?;
        let params = rcgen::CertificateParams::new(vec!["rollmesh".to_string()])
            .map_err(|e| NetError::Tls(e.to_string()))?;
        let cert = params
            .self_signed(&kp)
            .map_err(|e| NetError::Tls(e.to_string()))?;
        Ok(Identity {
            cert: cert.der().clone(),
            key: pkcs8,
        })
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

#[derive(Debug)]
struct PeerVerifier(Arc<CryptoProvider>);

impl PeerVerifier {
    fn tls12(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    fn tls13(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    fn check(cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        cert_key(cert.as_ref())
            .map(|_| ())
            .ok_or(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            ))
    }
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Self::check(end_entity)?;
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Self::check(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(std::time::Duration::from_secs(2)));
    if let Ok(idle) = quinn::IdleTimeout::try_from(std::time::Duration::from_secs(8)) {
        t.max_idle_timeout(Some(idle));
    }
    Arc::new(t)
}

/// A QUIC endpoint that both accepts and dials, with mutual authentication by node certificates.
pub fn endpoint(identity: &Identity, listen: SocketAddr) -> Result<quinn::Endpoint, NetError> {
    let p = provider();
    let verifier = Arc::new(PeerVerifier(p.clone()));
    let mut server = rustls::ServerConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NetError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier.clone())
        .with_single_cert(vec![identity.cert.clone()], identity.key())
        .map_err(|e| NetError::Tls(e.to_string()))?;
    server.alpn_protocols = vec![ALPN.to_vec()];
    let server = quinn::crypto::rustls::QuicServerConfig::try_from(server)
        .map_err(|e| NetError::Tls(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(server));
    server.transport_config(transport());

    let mut client = rustls::ClientConfig::builder_with_provider(p)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NetError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![identity.cert.clone()], identity.key())
        .map_err(|e| NetError::Tls(e.to_string()))?;
    client.alpn_protocols = vec![ALPN.to_vec()];
    let client = quinn::crypto::rustls::QuicClientConfig::try_from(client)
        .map_err(|e| NetError::Tls(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(client));
    client.transport_config(transport());

    let mut ep = quinn::Endpoint::server(server, listen).map_err(|source| NetError::Bind {
        addr: listen,
        source,
    })?;
    ep.set_default_client_config(client);
    Ok(ep)
}

/// Writes one frame: a u32 big-endian length, then the bytes.
pub async fn write_frame(send: &mut quinn::SendStream, bytes: &[u8]) -> Result<(), NetError> {
    if bytes.len() > MAX_FRAME {
        return Err(NetError::FrameTooLarge(bytes.len()));
    }
    let mut buf = Vec::with_capacity(4 + bytes.len());
    buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    buf.extend_from_slice(bytes);
    send.write_all(&buf)
        .await
        .map_err(|e| NetError::Stream(e.to_string()))
}

/// Reads one frame; `None` at a clean end of stream.
pub async fn read_frame(recv: &mut quinn::RecvStream) -> Result<Option<Vec<u8>>, NetError> {
    let mut len = [0u8; 4];
    match recv.read_exact(&mut len).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(NetError::Stream(e.to_string())),
    }
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(NetError::FrameTooLarge(n));
    }
    let mut buf = vec![0u8; n];
    recv.read_exact(&mut buf)
        .await
        .map_err(|e| NetError::Stream(e.to_string()))?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn mutual_tls_proves_both_keys() {
        let a_seed = [1u8; 32];
        let b_seed = [2u8; 32];
        let a_pub = rollmesh_proto::NodeKey::from_seed(a_seed).public();
        let b_pub = rollmesh_proto::NodeKey::from_seed(b_seed).public();
        let a = endpoint(
            &Identity::from_seed(&a_seed).expect("id"),
            "127.0.0.1:0".parse().expect("addr"),
        )
        .expect("endpoint a");
        let b = endpoint(
            &Identity::from_seed(&b_seed).expect("id"),
            "127.0.0.1:0".parse().expect("addr"),
        )
        .expect("endpoint b");
        let b_addr = b.local_addr().expect("addr");
        let accept = tokio::spawn(async move {
            let inc = b.accept().await.expect("incoming");
            let conn = inc.await.expect("handshake");
            let (mut send, mut recv) = conn.accept_bi().await.expect("stream");
            let got = read_frame(&mut recv).await.expect("read").expect("frame");
            write_frame(&mut send, b"pong").await.expect("write");
            send.finish().expect("finish");
            let _ = conn.closed().await;
            (peer_key(&conn), got)
        });
        let conn = a
            .connect(b_addr, "rollmesh")
            .expect("connect")
            .await
            .expect("handshake");
        assert_eq!(peer_key(&conn), Some(b_pub));
        let (mut send, mut recv) = conn.open_bi().await.expect("stream");
        write_frame(&mut send, b"ping").await.expect("write");
        let reply = read_frame(&mut recv).await.expect("read").expect("frame");
        assert_eq!(reply, b"pong");
        conn.close(0u32.into(), b"done");
        let (seen, got) = tokio::time::timeout(std::time::Duration::from_secs(10), accept)
            .await
            .expect("in time")
            .expect("task");
        assert_eq!(seen, Some(a_pub));
        assert_eq!(got, b"ping");
    }
}
