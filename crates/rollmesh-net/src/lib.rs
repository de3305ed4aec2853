//! QUIC transport for rollmesh: TLS 1.3 identities derived from node keys (a self-signed certificate over
//! the node's own ed25519 key), ALPN `rollmesh/1`, and length-prefixed frames on a stream.
//!
//! TLS proves that the peer holds the private key of the public key in its certificate. Whether that key
//! may take part is decided after the handshake from its credential chain (by the node), so the verifiers
//! here accept any well-formed ed25519 certificate and check only the handshake signature. The node key
//! is read from the certificate's parsed subjectPublicKeyInfo ([`cert_key`]), never by searching its
//! bytes, which a certificate's names and extensions can fill with anything.

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

/// Why a certificate does not name a node key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The peer presented no certificate (or the connection has no TLS peer identity).
    #[error("peer presented no certificate")]
    NoCertificate,
    /// The bytes are not a well-formed X.509 certificate, or its ed25519 key is malformed.
    #[error("malformed certificate: {0}")]
    Malformed(String),
    /// The certificate's subjectPublicKeyInfo is for another algorithm than Ed25519.
    #[error("certificate key is not ed25519 (algorithm {algorithm})")]
    NotEd25519 {
        /// The dotted OID of the algorithm the certificate names.
        algorithm: String,
    },
}

/// The node key a DER certificate certifies: the ed25519 key of its subjectPublicKeyInfo.
///
/// The certificate is parsed as X.509 by the same parser (webpki, through rustls'
/// [`ParsedCertificate`](rustls::server::ParsedCertificate)) that rustls uses to check the
/// handshake signature, so the key returned here is exactly the key the peer proved it holds.
/// The key is never found by searching the bytes: names and extensions may carry any bytes,
/// including a copy of another node's key encoded as a subjectPublicKeyInfo.
///
/// The subjectPublicKeyInfo must be strict DER for algorithm 1.3.101.112 (Ed25519) without
/// parameters (RFC 8410) and a bit string of exactly 32 bytes that is a point on the curve.
/// Anything else, including trailing bytes after the certificate, is an error.
pub fn cert_key(cert: &[u8]) -> Result<NodePublicKey, IdentityError> {
    use ed25519_dalek::pkcs8::spki::der::Decode;
    use ed25519_dalek::pkcs8::spki::SubjectPublicKeyInfoRef;

    let der = CertificateDer::from(cert);
    let parsed = rustls::server::ParsedCertificate::try_from(&der)
        .map_err(|e| IdentityError::Malformed(e.to_string()))?;
    let spki_der = parsed.subject_public_key_info();
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der.as_ref())
        .map_err(|e| IdentityError::Malformed(format!("subjectPublicKeyInfo: {e}")))?;
    if spki.algorithm.oid != ed25519_dalek::pkcs8::ALGORITHM_OID {
        return Err(IdentityError::NotEd25519 {
            algorithm: spki.algorithm.oid.to_string(),
        });
    }
    if spki.algorithm.parameters.is_some() {
        return Err(IdentityError::Malformed(
            "ed25519 algorithm identifier has parameters".into(),
        ));
    }
    let bits = spki.subject_public_key.as_bytes().ok_or_else(|| {
        IdentityError::Malformed("ed25519 key is not a whole number of bytes".into())
    })?;
    let key: [u8; 32] = bits.try_into().map_err(|_| {
        IdentityError::Malformed(format!("ed25519 key of {} bytes, not 32", bits.len()))
    })?;
    ed25519_dalek::VerifyingKey::from_bytes(&key)
        .map_err(|_| IdentityError::Malformed("ed25519 key is not a curve point".into()))?;
    Ok(NodePublicKey(key))
}

/// The node key a connected peer proved in the TLS handshake (its certificate's key, see
/// [`cert_key`]).
pub fn peer_key(conn: &quinn::Connection) -> Result<NodePublicKey, IdentityError> {
    let any = conn.peer_identity().ok_or(IdentityError::NoCertificate)?;
    let certs = any
        .downcast::<Vec<CertificateDer<'static>>>()
        .map_err(|_| IdentityError::NoCertificate)?;
    let first = certs.first().ok_or(IdentityError::NoCertificate)?;
    cert_key(first.as_ref())
}

/// A short, stable name for why a QUIC handshake or connection failed, for logs and counters next
/// to the error's full text (its `Display`, e.g. "the cryptographic handshake failed: error 116:
/// peer sent no certificates").
///
/// - `no_client_certificate`: we required a client certificate and the peer sent none (we sent
///   the TLS `certificate_required` alert).
/// - `bad_certificate`: we refused the peer's certificate (e.g. not an ed25519 key, malformed).
/// - `tls_error`: our TLS stack failed the handshake for another reason.
/// - `refused_by_peer`: the peer's TLS stack refused the handshake (it sent an alert).
/// - `timed_out`, `closed_by_peer`, `closed_locally`, `other`: the plain QUIC outcomes.
pub fn describe_handshake_error(err: &quinn::ConnectionError) -> &'static str {
    use quinn::ConnectionError as E;
    use rustls::AlertDescription as A;
    let alert = |a: A| quinn::TransportErrorCode::crypto(u8::from(a));
    let is_tls = |code: quinn::TransportErrorCode| (0x100..0x200).contains(&u64::from(code));
    match err {
        E::TransportError(t) if t.code == alert(A::CertificateRequired) => "no_client_certificate",
        E::TransportError(t)
            if t.code == alert(A::BadCertificate) || t.code == alert(A::CertificateUnknown) =>
        {
            "bad_certificate"
        }
        E::TransportError(t) if is_tls(t.code) => "tls_error",
        E::ConnectionClosed(c) if is_tls(c.error_code) => "refused_by_peer",
        E::TimedOut => "timed_out",
        E::ApplicationClosed(_) | E::ConnectionClosed(_) | E::Reset => "closed_by_peer",
        E::LocallyClosed => "closed_locally",
        _ => "other",
    }
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

    /// Refuses a certificate that does not name an ed25519 node key; the reason goes into the
    /// handshake error (the peer is sent the `certificate_unknown` alert).
    fn check(cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        cert_key(cert.as_ref()).map(|_| ()).map_err(|e| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
                Arc::new(e),
            )))
        })
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
    read_frame_max(recv, MAX_FRAME).await
}

/// Reads one frame of at most `max` bytes (refused before anything is allocated for it); `None` at a
/// clean end of stream. Before a peer is authenticated, its frames are read with a small `max`.
pub async fn read_frame_max(
    recv: &mut quinn::RecvStream,
    max: usize,
) -> Result<Option<Vec<u8>>, NetError> {
    let mut len = [0u8; 4];
    match recv.read_exact(&mut len).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(NetError::Stream(e.to_string())),
    }
    let n = u32::from_be_bytes(len) as usize;
    if n > max.min(MAX_FRAME) {
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

    /// The DER prefix of an ed25519 subjectPublicKeyInfo (SEQUENCE { SEQUENCE { OID 1.3.101.112 },
    /// BIT STRING of 33 bytes, 0 unused bits }); the 32 key bytes follow it.
    const SPKI_PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    const ATTACKER_SEED: [u8; 32] = [0xa7; 32];
    const VICTIM_SEED: [u8; 32] = [0x51; 32];

    /// The old, broken `cert_key`: the 32 bytes after the first ed25519 SPKI prefix found anywhere
    /// in the certificate. Kept here to prove the crafted certificates are a real attack on it.
    fn naive_search(cert: &[u8]) -> Option<NodePublicKey> {
        let at = cert
            .windows(SPKI_PREFIX.len())
            .position(|w| w == SPKI_PREFIX)?;
        let start = at + SPKI_PREFIX.len();
        let key: [u8; 32] = cert.get(start..start + 32)?.try_into().ok()?;
        Some(NodePublicKey(key))
    }

    fn public(seed: [u8; 32]) -> NodePublicKey {
        rollmesh_proto::NodeKey::from_seed(seed).public()
    }

    fn localhost() -> SocketAddr {
        "127.0.0.1:0".parse().expect("addr")
    }

    /// Where a crafted certificate smuggles the victim's key.
    #[derive(Clone, Copy, Debug)]
    enum Smuggle {
        /// In the subject (and so, self-signed, the issuer) common name, as a BMPString whose
        /// content bytes are the SPKI prefix and the victim's key.
        SubjectName,
        /// As the raw value of a non-critical private extension.
        Extension,
    }

    /// The victim's key encoded as an ed25519 subjectPublicKeyInfo, padded so that the bytes are
    /// valid UTF-16BE for a BMPString (`shift` adds one byte before, changing the pairing).
    fn smuggled_bytes(victim: &NodePublicKey, shift: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        if shift {
            bytes.push(0x20);
        }
        bytes.extend_from_slice(&SPKI_PREFIX);
        bytes.extend_from_slice(&victim.0);
        if bytes.len() % 2 == 1 {
            bytes.push(0x20);
        }
        bytes
    }

    /// A correctly self-signed certificate over `kp` (the attacker's key) that carries the
    /// victim's key, encoded as an ed25519 subjectPublicKeyInfo, in a name or an extension.
    fn crafted_cert(
        kp: &rcgen::KeyPair,
        victim: &NodePublicKey,
        at: Smuggle,
    ) -> CertificateDer<'static> {
        let mut params =
            rcgen::CertificateParams::new(vec!["rollmesh".to_string()]).expect("params");
        match at {
            Smuggle::SubjectName => {
                let bmp = [false, true]
                    .into_iter()
                    .find_map(|shift| {
                        rcgen::BmpString::from_utf16be(smuggled_bytes(victim, shift)).ok()
                    })
                    .expect("the victim key fits a BMPString in one of the two alignments");
                let mut dn = rcgen::DistinguishedName::new();
                dn.push(rcgen::DnType::CommonName, rcgen::DnValue::BmpString(bmp));
                params.distinguished_name = dn;
            }
            Smuggle::Extension => {
                params
                    .custom_extensions
                    .push(rcgen::CustomExtension::from_oid_content(
                        &[1, 3, 6, 1, 4, 1, 99999, 1],
                        smuggled_bytes(victim, false),
                    ));
            }
        }
        params.self_signed(kp).expect("self-signed").der().clone()
    }

    /// The attacker's TLS identity: its own ed25519 key, the victim's key smuggled in.
    fn crafted_identity(attacker_seed: &[u8; 32], victim: &NodePublicKey, at: Smuggle) -> Identity {
        let signing = ed25519_dalek::SigningKey::from_bytes(attacker_seed);
        let der = signing.to_pkcs8_der().expect("pkcs8");
        let pkcs8 = PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
        let kp = rcgen::KeyPair::try_from(&pkcs8).expect("key pair");
        Identity {
            cert: crafted_cert(&kp, victim, at),
            key: pkcs8,
        }
    }

    /// An honest identity's certificate bytes and the offset of its real subjectPublicKeyInfo.
    fn honest_cert_and_spki_offset() -> (Vec<u8>, usize) {
        let id = Identity::from_seed(&VICTIM_SEED).expect("id");
        let cert = id.cert.as_ref().to_vec();
        let parsed = rustls::server::ParsedCertificate::try_from(&id.cert).expect("parse");
        let spki = parsed.subject_public_key_info();
        let at = cert
            .windows(spki.as_ref().len())
            .position(|w| w == spki.as_ref())
            .expect("spki inside the certificate");
        (cert, at)
    }

    #[test]
    fn from_seed_certifies_the_seed_key() {
        for seed in [[0u8; 32], [1u8; 32], ATTACKER_SEED, VICTIM_SEED] {
            let id = Identity::from_seed(&seed).expect("id");
            assert_eq!(cert_key(id.cert.as_ref()), Ok(public(seed)));
        }
    }

    #[test]
    fn key_smuggled_in_subject_name_is_not_the_identity() {
        let (attacker, victim) = (public(ATTACKER_SEED), public(VICTIM_SEED));
        let id = crafted_identity(&ATTACKER_SEED, &victim, Smuggle::SubjectName);
        let cert = id.cert.as_ref();
        assert_eq!(
            naive_search(cert),
            Some(victim),
            "the byte search is fooled"
        );
        assert_eq!(cert_key(cert), Ok(attacker));
    }

    #[test]
    fn key_smuggled_in_extension_is_not_the_identity() {
        let (attacker, victim) = (public(ATTACKER_SEED), public(VICTIM_SEED));
        // Over an ed25519 key the real subjectPublicKeyInfo comes before the extensions, so even
        // the byte search finds the real key first; the parser of course does too.
        let id = crafted_identity(&ATTACKER_SEED, &victim, Smuggle::Extension);
        assert_eq!(naive_search(id.cert.as_ref()), Some(attacker));
        assert_eq!(cert_key(id.cert.as_ref()), Ok(attacker));
        // Over a key of another algorithm the extension holds the only match: the byte search
        // names the victim, the parser refuses the certificate.
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256");
        for at in [Smuggle::Extension, Smuggle::SubjectName] {
            let cert = crafted_cert(&kp, &victim, at);
            assert_eq!(naive_search(cert.as_ref()), Some(victim), "{at:?}");
            assert_eq!(
                cert_key(cert.as_ref()),
                Err(IdentityError::NotEd25519 {
                    algorithm: "1.2.840.10045.2.1".into()
                }),
                "{at:?}"
            );
        }
    }

    #[test]
    fn bare_spki_bytes_are_not_a_certificate() {
        let victim = public(VICTIM_SEED);
        let bytes = smuggled_bytes(&victim, false);
        assert_eq!(naive_search(&bytes), Some(victim));
        assert!(matches!(cert_key(&bytes), Err(IdentityError::Malformed(_))));
    }

    #[test]
    fn non_ed25519_certificate_is_refused() {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256");
        let cert = rcgen::CertificateParams::new(vec!["rollmesh".to_string()])
            .expect("params")
            .self_signed(&kp)
            .expect("cert");
        assert_eq!(
            cert_key(cert.der().as_ref()),
            Err(IdentityError::NotEd25519 {
                algorithm: "1.2.840.10045.2.1".into()
            })
        );
        // The TLS verifiers refuse it with the reason in the handshake error.
        let refused = PeerVerifier::check(cert.der()).expect_err("refused");
        assert!(refused.to_string().contains("NotEd25519"), "{refused}");
    }

    #[test]
    fn ed448_oid_or_unused_key_bits_are_refused() {
        let (cert, at) = honest_cert_and_spki_offset();
        assert_eq!(cert[at..at + SPKI_PREFIX.len()], SPKI_PREFIX);
        assert_eq!(cert_key(&cert), Ok(public(VICTIM_SEED)));

        // The OID's last byte: 1.3.101.112 (Ed25519) becomes 1.3.101.113 (Ed448).
        let mut ed448 = cert.clone();
        ed448[at + 8] = 0x71;
        assert_eq!(
            cert_key(&ed448),
            Err(IdentityError::NotEd25519 {
                algorithm: "1.3.101.113".into()
            })
        );

        // The BIT STRING's unused-bits count: the key is no longer 32 whole bytes.
        let mut unused = cert.clone();
        unused[at + 11] = 0x01;
        assert!(matches!(
            cert_key(&unused),
            Err(IdentityError::Malformed(_))
        ));
    }

    #[test]
    fn truncated_or_garbage_certificate_is_refused() {
        let (cert, _) = honest_cert_and_spki_offset();
        for n in 0..cert.len() {
            assert!(
                matches!(cert_key(&cert[..n]), Err(IdentityError::Malformed(_))),
                "truncated to {n} bytes"
            );
        }
        let mut trailing = cert.clone();
        trailing.push(0);
        assert!(matches!(
            cert_key(&trailing),
            Err(IdentityError::Malformed(_))
        ));
        // Every single-byte change either still parses to some key or is refused; none panics.
        for i in 0..cert.len() {
            let mut flipped = cert.clone();
            flipped[i] ^= 0xff;
            let _ = cert_key(&flipped);
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in [1usize, 2, 12, 44, 100, 400, 4096] {
            let garbage: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            assert!(cert_key(&garbage).is_err(), "{len} garbage bytes");
        }
        assert!(cert_key(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[tokio::test]
    async fn mutual_tls_proves_both_keys() {
        let a_seed = [1u8; 32];
        let b_seed = [2u8; 32];
        let a_pub = public(a_seed);
        let b_pub = public(b_seed);
        let a = endpoint(&Identity::from_seed(&a_seed).expect("id"), localhost()).expect("a");
        let b = endpoint(&Identity::from_seed(&b_seed).expect("id"), localhost()).expect("b");
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
        assert_eq!(peer_key(&conn), Ok(b_pub));
        let (mut send, mut recv) = conn.open_bi().await.expect("stream");
        write_frame(&mut send, b"ping").await.expect("write");
        let reply = read_frame(&mut recv).await.expect("read").expect("frame");
        assert_eq!(reply, b"pong");
        conn.close(0u32.into(), b"done");
        let (seen, got) = tokio::time::timeout(std::time::Duration::from_secs(10), accept)
            .await
            .expect("in time")
            .expect("task");
        assert_eq!(seen, Ok(a_pub));
        assert_eq!(got, b"ping");
    }

    #[tokio::test]
    async fn quic_peer_with_smuggled_key_is_seen_as_attacker() {
        let (attacker, victim) = (public(ATTACKER_SEED), public(VICTIM_SEED));
        let server_seed = [3u8; 32];
        let crafted = crafted_identity(&ATTACKER_SEED, &victim, Smuggle::SubjectName);
        assert_eq!(naive_search(crafted.cert.as_ref()), Some(victim));
        let client = endpoint(&crafted, localhost()).expect("client");
        let server =
            endpoint(&Identity::from_seed(&server_seed).expect("id"), localhost()).expect("server");
        let server_addr = server.local_addr().expect("addr");
        let accept = tokio::spawn(async move {
            let inc = server.accept().await.expect("incoming");
            let conn = inc.await.expect("handshake");
            let seen = peer_key(&conn);
            let _ = conn.closed().await;
            seen
        });
        let conn = client
            .connect(server_addr, "rollmesh")
            .expect("connect")
            .await
            .expect("handshake");
        assert_eq!(peer_key(&conn), Ok(public(server_seed)));
        conn.close(0u32.into(), b"done");
        let seen = tokio::time::timeout(std::time::Duration::from_secs(10), accept)
            .await
            .expect("in time")
            .expect("task");
        assert_eq!(seen, Ok(attacker));
        assert_ne!(seen, Ok(victim));
    }

    #[tokio::test]
    async fn quic_client_without_certificate_is_refused() {
        let server =
            endpoint(&Identity::from_seed(&[4u8; 32]).expect("id"), localhost()).expect("server");
        let server_addr = server.local_addr().expect("addr");

        let p = provider();
        let mut tls = rustls::ClientConfig::builder_with_provider(p.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("tls13")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PeerVerifier(p)))
            .with_no_client_auth();
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let tls = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls");
        let mut client = quinn::Endpoint::client(localhost()).expect("client");
        client.set_default_client_config(quinn::ClientConfig::new(Arc::new(tls)));

        let accept = tokio::spawn(async move {
            let inc = server.accept().await.expect("incoming");
            inc.await
        });
        // TLS 1.3 lets the client finish its side before the server has checked it, so the
        // client may see the connection open and then closed; either way it must not last.
        let client_side = match client
            .connect(server_addr, "rollmesh")
            .expect("connect")
            .await
        {
            Ok(conn) => conn.closed().await,
            Err(e) => e,
        };
        let server_side = tokio::time::timeout(std::time::Duration::from_secs(10), accept)
            .await
            .expect("in time")
            .expect("task");
        let Err(err) = server_side else {
            panic!("the server accepted a client without a certificate");
        };
        // This is the text the daemon logs as `handshake failed`.
        let text = err.to_string();
        assert!(text.contains("peer sent no certificates"), "{text}");
        assert_eq!(describe_handshake_error(&err), "no_client_certificate");
        assert_eq!(describe_handshake_error(&client_side), "refused_by_peer");
    }
}
