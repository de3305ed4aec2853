//! Credentials, chains and revocations: who may write what. The organisation's root key (kept offline by
//! the city organisation department) certifies the city node; each parent certifies its children. A
//! node's chain runs from the root to itself and every link's unit lies inside its issuer's unit. All
//! checks here are pure: the caller passes `now` and the revocations it knows.
//!
//! Byte layouts are specified in `docs/PROTOCOL.md` §5–§7.

use std::fmt;

use ed25519_dalek::Signature;
use rollmesh_model::UnitPath;

use crate::identity::{NodeKey, NodePublicKey};

/// Domain separation for credential signatures.
pub const CREDENTIAL_DOMAIN: &[u8] = b"rollmesh/credential/v1\0";
/// Domain separation for revocation signatures.
pub const REVOCATION_DOMAIN: &[u8] = b"rollmesh/revocation/v1\0";
/// Domain separation for credential requests (proof that the requester holds the key).
pub const REQUEST_DOMAIN: &[u8] = b"rollmesh/credential-request/v1\0";
/// Magic of a chain file.
pub const CHAIN_FILE_MAGIC: &[u8; 8] = b"RMCHAIN1";

/// Role bits of a credential.
pub mod roles {
    /// May sign changes to member data inside its unit.
    pub const CLERK: u8 = 1;
    /// May take decisions in workflows (reserved for the case workflows).
    pub const APPROVER: u8 = 2;
    /// May issue credentials to units inside its own, and revoke them.
    pub const ISSUER: u8 = 4;
    /// Every role.
    pub const ALL: u8 = CLERK | APPROVER | ISSUER;

    /// Role names, for display and parsing.
    pub const NAMES: [(u8, &str); 3] =
        [(CLERK, "clerk"), (APPROVER, "approver"), (ISSUER, "issuer")];

    /// `clerk,issuer` → bits; `None` on an unknown name.
    pub fn parse(s: &str) -> Option<u8> {
        let mut bits = 0;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            bits |= NAMES.iter().find(|(_, n)| *n == part)?.0;
        }
        Some(bits)
    }

    /// Bits → `clerk,issuer`.
    pub fn names(bits: u8) -> String {
        NAMES
            .iter()
            .filter(|(b, _)| bits & b != 0)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Why a chain (or a credential, request or revocation) is refused. Each reason is distinct so a clerk
/// can tell what to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The bytes do not parse.
    #[error("malformed: {0}")]
    Malformed(String),
    /// No links.
    #[error("the chain is empty")]
    Empty,
    /// The first link is not signed by the configured root key.
    #[error("the chain does not start at the configured root key")]
    WrongRoot,
    /// A link's signature does not verify.
    #[error("link {0}: bad signature")]
    BadSignature(usize),
    /// A link has expired.
    #[error("link {0}: expired")]
    Expired(usize),
    /// A link is not valid yet.
    #[error("link {0}: not valid yet")]
    NotYetValid(usize),
    /// A link's unit is outside its issuer's unit.
    #[error("link {0}: unit lies outside its issuer's unit")]
    UnitOutsideIssuer(usize),
    /// A link is not issued by the previous link's subject.
    #[error("link {0}: not issued by the previous link's key")]
    BrokenLink(usize),
    /// A link was issued by a credential without the issuer role.
    #[error("link {0}: its issuer may not delegate")]
    NotAnIssuer(usize),
    /// A link has been revoked.
    #[error("link {0}: revoked")]
    Revoked(usize),
}

impl ChainError {
    /// A stable key for the reason.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::Malformed(_) => "malformed",
            ChainError::Empty => "empty",
            ChainError::WrongRoot => "wrong_root",
            ChainError::BadSignature(_) => "bad_signature",
            ChainError::Expired(_) => "expired",
            ChainError::NotYetValid(_) => "not_yet_valid",
            ChainError::UnitOutsideIssuer(_) => "unit_outside_issuer",
            ChainError::BrokenLink(_) => "broken_link",
            ChainError::NotAnIssuer(_) => "not_an_issuer",
            ChainError::Revoked(_) => "revoked",
        }
    }
}

fn malformed(what: &str) -> ChainError {
    ChainError::Malformed(what.to_string())
}

/// A little cursor for the fixed layouts below.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ChainError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| malformed("length overflow"))?;
        let s = self
            .b
            .get(self.pos..end)
            .ok_or_else(|| malformed("truncated"))?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, ChainError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ChainError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, ChainError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, ChainError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn i64(&mut self) -> Result<i64, ChainError> {
        Ok(self.u64()? as i64)
    }
    fn key(&mut self) -> Result<NodePublicKey, ChainError> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32)?);
        Ok(NodePublicKey(a))
    }
    fn sig(&mut self) -> Result<[u8; 64], ChainError> {
        let mut a = [0u8; 64];
        a.copy_from_slice(self.take(64)?);
        Ok(a)
    }
    fn unit(&mut self) -> Result<UnitPath, ChainError> {
        let n = self.u8()? as usize;
        let s = std::str::from_utf8(self.take(n)?).map_err(|_| malformed("unit is not UTF-8"))?;
        UnitPath::parse(s).map_err(|e| ChainError::Malformed(e.to_string()))
    }
    fn done(&self) -> Result<(), ChainError> {
        if self.pos == self.b.len() {
            Ok(())
        } else {
            Err(malformed("trailing bytes"))
        }
    }
}

fn verify_sig(key: &NodePublicKey, domain: &[u8], body: &[u8], sig: &[u8; 64]) -> bool {
    let Some(vk) = key.verifying_key() else {
        return false;
    };
    let mut msg = Vec::with_capacity(domain.len() + body.len());
    msg.extend_from_slice(domain);
    msg.extend_from_slice(body);
    vk.verify_strict(&msg, &Signature::from_bytes(sig)).is_ok()
}

fn sign_with(key: &NodeKey, domain: &[u8], body: &[u8]) -> [u8; 64] {
    let mut msg = Vec::with_capacity(domain.len() + body.len());
    msg.extend_from_slice(domain);
    msg.extend_from_slice(body);
    key.sign(&msg)
}

/// One link: an issuer certifies that `subject` speaks for `unit` with `roles` during a validity window.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Unique per issuer; names the credential in revocations.
    pub serial: u64,
    /// The issuer's public key (the root key for the first link).
    pub issuer: NodePublicKey,
    /// The certified node key.
    pub subject: NodePublicKey,
    /// The unit the subject serves.
    pub unit: UnitPath,
    /// Role bits (see [`roles`]).
    pub roles: u8,
    /// Valid from (unix seconds).
    pub not_before: i64,
    /// Valid until (unix seconds).
    pub not_after: i64,
    /// The issuer's signature over `CREDENTIAL_DOMAIN || body`.
    pub signature: [u8; 64],
}

impl Credential {
    /// Issues and signs a credential.
    #[allow(clippy::too_many_arguments)]
    pub fn issue(
        issuer: &NodeKey,
        subject: NodePublicKey,
        unit: UnitPath,
        roles: u8,
        not_before: i64,
        not_after: i64,
        serial: u64,
    ) -> Credential {
        let mut c = Credential {
            serial,
            issuer: issuer.public(),
            subject,
            unit,
            roles,
            not_before,
            not_after,
            signature: [0; 64],
        };
        c.signature = sign_with(issuer, CREDENTIAL_DOMAIN, &c.body());
        c
    }

    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(128);
        b.push(1);
        b.extend_from_slice(&self.serial.to_be_bytes());
        b.extend_from_slice(&self.issuer.0);
        b.extend_from_slice(&self.subject.0);
        b.push(self.unit.as_str().len() as u8);
        b.extend_from_slice(self.unit.as_str().as_bytes());
        b.push(self.roles);
        b.extend_from_slice(&self.not_before.to_be_bytes());
        b.extend_from_slice(&self.not_after.to_be_bytes());
        b
    }

    /// The encoded credential: body then signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.body();
        b.extend_from_slice(&self.signature);
        b
    }

    fn read(r: &mut Reader<'_>) -> Result<Credential, ChainError> {
        if r.u8()? != 1 {
            return Err(malformed("unknown credential version"));
        }
        Ok(Credential {
            serial: r.u64()?,
            issuer: r.key()?,
            subject: r.key()?,
            unit: r.unit()?,
            roles: r.u8()?,
            not_before: r.i64()?,
            not_after: r.i64()?,
            signature: r.sig()?,
        })
    }

    /// Decodes one credential.
    pub fn decode(bytes: &[u8]) -> Result<Credential, ChainError> {
        let mut r = Reader { b: bytes, pos: 0 };
        let c = Self::read(&mut r)?;
        r.done()?;
        Ok(c)
    }

    /// Whether the issuer's signature verifies.
    pub fn signature_ok(&self) -> bool {
        verify_sig(
            &self.issuer,
            CREDENTIAL_DOMAIN,
            &self.body(),
            &self.signature,
        )
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("serial", &self.serial)
            .field("issuer", &self.issuer.node_id())
            .field("subject", &self.subject.node_id())
            .field("unit", &self.unit.as_str())
            .field("roles", &roles::names(self.roles))
            .finish()
    }
}

/// A credential chain from the root to one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain(pub Vec<Credential>);

impl Chain {
    /// The last link (the node's own credential).
    pub fn leaf(&self) -> Option<&Credential> {
        self.0.last()
    }

    /// The node key the chain certifies.
    pub fn subject(&self) -> Option<NodePublicKey> {
        self.leaf().map(|c| c.subject)
    }

    /// The unit the chain certifies.
    pub fn unit(&self) -> Option<&UnitPath> {
        self.leaf().map(|c| &c.unit)
    }

    /// Encoding: `count:u8 | (len:u16 | credential)*`.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![self.0.len() as u8];
        for c in &self.0 {
            let e = c.encode();
            b.extend_from_slice(&(e.len() as u16).to_be_bytes());
            b.extend_from_slice(&e);
        }
        b
    }

    /// Decodes a chain.
    pub fn decode(bytes: &[u8]) -> Result<Chain, ChainError> {
        let mut r = Reader { b: bytes, pos: 0 };
        let n = r.u8()? as usize;
        let mut links = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.u16()? as usize;
            links.push(Credential::decode(r.take(len)?)?);
        }
        r.done()?;
        Ok(Chain(links))
    }

    /// A chain file: magic then the chain.
    pub fn to_file(&self) -> Vec<u8> {
        let mut b = CHAIN_FILE_MAGIC.to_vec();
        b.extend_from_slice(&self.encode());
        b
    }

    /// Reads a chain file.
    pub fn from_file(bytes: &[u8]) -> Result<Chain, ChainError> {
        match bytes.strip_prefix(CHAIN_FILE_MAGIC.as_slice()) {
            Some(rest) => Chain::decode(rest),
            None => Err(malformed("not a rollmesh credential file")),
        }
    }

    /// Checks the chain against the root key at time `now`: every signature, every validity window, each
    /// link issued by the previous link's subject holding the issuer role, each unit inside its issuer's,
    /// and no link revoked.
    pub fn validate(
        &self,
        root: &NodePublicKey,
        now: i64,
        revocations: &[Revocation],
    ) -> Result<(), ChainError> {
        if self.0.is_empty() {
            return Err(ChainError::Empty);
        }
        for (i, c) in self.0.iter().enumerate() {
            if i == 0 {
                if c.issuer != *root {
                    return Err(ChainError::WrongRoot);
                }
            } else {
                let prev = &self.0[i - 1];
                if c.issuer != prev.subject {
                    return Err(ChainError::BrokenLink(i));
                }
                if prev.roles & roles::ISSUER == 0 {
                    return Err(ChainError::NotAnIssuer(i));
                }
                if !prev.unit.covers(&c.unit) {
                    return Err(ChainError::UnitOutsideIssuer(i));
                }
            }
            if !c.signature_ok() {
                return Err(ChainError::BadSignature(i));
            }
            if now < c.not_before {
                return Err(ChainError::NotYetValid(i));
            }
            if now > c.not_after {
                return Err(ChainError::Expired(i));
            }
            if revocations.iter().any(|r| r.revokes(c)) {
                return Err(ChainError::Revoked(i));
            }
        }
        Ok(())
    }
}

/// A request for a credential: the requester's key and unit, signed by that key to prove possession.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRequest {
    /// The key to certify.
    pub subject: NodePublicKey,
    /// The unit asked for.
    pub unit: UnitPath,
    /// Signature by `subject` over `REQUEST_DOMAIN || subject || unit`.
    pub signature: [u8; 64],
}

impl CredentialRequest {
    /// Makes a signed request.
    pub fn new(key: &NodeKey, unit: UnitPath) -> Self {
        let mut r = CredentialRequest {
            subject: key.public(),
            unit,
            signature: [0; 64],
        };
        r.signature = sign_with(key, REQUEST_DOMAIN, &r.body());
        r
    }

    fn body(&self) -> Vec<u8> {
        let mut b = self.subject.0.to_vec();
        b.extend_from_slice(self.unit.as_str().as_bytes());
        b
    }

    /// The request as text: a header line, then key, unit and signature lines (hex).
    pub fn to_text(&self) -> String {
        format!(
            "rollmesh-credential-request-v1\nkey {}\nunit {}\nnode {}\nsig {}\n",
            self.subject.to_hex(),
            self.unit,
            self.subject.node_id(),
            crate::identity::hex(&self.signature)
        )
    }

    /// Parses and checks a request.
    pub fn from_text(text: &str) -> Result<Self, ChainError> {
        let mut lines = text.lines().map(str::trim);
        if lines.next() != Some("rollmesh-credential-request-v1") {
            return Err(malformed("not a credential request"));
        }
        let mut key = None;
        let mut unit = None;
        let mut sig = None;
        for l in lines {
            let (k, v) = l.split_once(' ').unwrap_or((l, ""));
            match k {
                "key" => key = NodePublicKey::from_hex(v),
                "unit" => unit = UnitPath::parse(v).ok(),
                "sig" => sig = crate::identity::unhex(v).and_then(|b| <[u8; 64]>::try_from(b).ok()),
                _ => {}
            }
        }
        let r = CredentialRequest {
            subject: key.ok_or_else(|| malformed("request has no key"))?,
            unit: unit.ok_or_else(|| malformed("request has no unit"))?,
            signature: sig.ok_or_else(|| malformed("request has no signature"))?,
        };
        if !verify_sig(&r.subject, REQUEST_DOMAIN, &r.body(), &r.signature) {
            return Err(ChainError::BadSignature(0));
        }
        Ok(r)
    }
}

/// A signed revocation of a node key (all its credentials, `serial = 0`) or of one credential, issued by
/// an ancestor. It lists the revoked key's changes the revoking node had accepted: those stay valid
/// everywhere; any other change by that key is refused from then on.
#[derive(Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The revoking key (an ancestor node, or the root).
    pub issuer: NodePublicKey,
    /// The revoked node key.
    pub target: NodePublicKey,
    /// The revoked credential's serial, or 0 for every credential of `target`.
    pub serial: u64,
    /// Only credentials for units inside this one are affected; must lie inside the issuer's unit.
    pub unit: UnitPath,
    /// Unix time of issue.
    pub issued_at: i64,
    /// Hashes of the target's changes the issuer had accepted before revoking, sorted.
    pub accepted: Vec<[u8; 32]>,
    /// Signature by `issuer` over `REVOCATION_DOMAIN || body`.
    pub signature: [u8; 64],
}

impl Revocation {
    /// Issues and signs a revocation.
    pub fn issue(
        issuer: &NodeKey,
        target: NodePublicKey,
        serial: u64,
        unit: UnitPath,
        issued_at: i64,
        mut accepted: Vec<[u8; 32]>,
    ) -> Revocation {
        accepted.sort();
        accepted.dedup();
        let mut r = Revocation {
            issuer: issuer.public(),
            target,
            serial,
            unit,
            issued_at,
            accepted,
            signature: [0; 64],
        };
        r.signature = sign_with(issuer, REVOCATION_DOMAIN, &r.body());
        r
    }

    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(128 + 32 * self.accepted.len());
        b.push(1);
        b.extend_from_slice(&self.issuer.0);
        b.extend_from_slice(&self.target.0);
        b.extend_from_slice(&self.serial.to_be_bytes());
        b.push(self.unit.as_str().len() as u8);
        b.extend_from_slice(self.unit.as_str().as_bytes());
        b.extend_from_slice(&self.issued_at.to_be_bytes());
        b.extend_from_slice(&(self.accepted.len() as u32).to_be_bytes());
        for h in &self.accepted {
            b.extend_from_slice(h);
        }
        b
    }

    /// Encoded: body then signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.body();
        b.extend_from_slice(&self.signature);
        b
    }

    /// Decodes a revocation (signature not yet checked).
    pub fn decode(bytes: &[u8]) -> Result<Revocation, ChainError> {
        let mut r = Reader { b: bytes, pos: 0 };
        if r.u8()? != 1 {
            return Err(malformed("unknown revocation version"));
        }
        let issuer = r.key()?;
        let target = r.key()?;
        let serial = r.u64()?;
        let unit = r.unit()?;
        let issued_at = r.i64()?;
        let n = r.u32()? as usize;
        if n > (bytes.len() / 32) {
            return Err(malformed("accepted list longer than the revocation"));
        }
        let mut accepted = Vec::with_capacity(n);
        for _ in 0..n {
            let mut h = [0u8; 32];
            h.copy_from_slice(r.take(32)?);
            accepted.push(h);
        }
        let signature = r.sig()?;
        r.done()?;
        Ok(Revocation {
            issuer,
            target,
            serial,
            unit,
            issued_at,
            accepted,
            signature,
        })
    }

    /// Checks the signature and the issuer's authority: the root, or a node whose valid chain carries the
    /// issuer role for a unit covering the revocation's unit.
    pub fn validate(
        &self,
        root: &NodePublicKey,
        issuer_chain: Option<&Chain>,
        now: i64,
        revocations: &[Revocation],
    ) -> Result<(), ChainError> {
        if !verify_sig(
            &self.issuer,
            REVOCATION_DOMAIN,
            &self.body(),
            &self.signature,
        ) {
            return Err(ChainError::BadSignature(0));
        }
        if self.issuer == *root {
            return Ok(());
        }
        let chain = issuer_chain.ok_or(ChainError::Empty)?;
        if chain.subject() != Some(self.issuer) {
            return Err(ChainError::BrokenLink(chain.0.len()));
        }
        chain.validate(root, now, revocations)?;
        let leaf = chain.leaf().ok_or(ChainError::Empty)?;
        if leaf.roles & roles::ISSUER == 0 {
            return Err(ChainError::NotAnIssuer(chain.0.len()));
        }
        if !leaf.unit.covers(&self.unit) {
            return Err(ChainError::UnitOutsideIssuer(chain.0.len()));
        }
        Ok(())
    }

    /// Whether this revocation revokes `c`.
    pub fn revokes(&self, c: &Credential) -> bool {
        c.subject == self.target
            && (self.serial == 0 || self.serial == c.serial)
            && self.unit.covers(&c.unit)
            // A node cannot revoke itself or an ancestor out of the tree.
            && c.subject != self.issuer
    }

    /// Whether the issuer had accepted this change of the target before revoking.
    pub fn accepted_before(&self, hash: &[u8; 32]) -> bool {
        self.accepted.binary_search(hash).is_ok()
    }
}

impl fmt::Debug for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("issuer", &self.issuer.node_id())
            .field("target", &self.target.node_id())
            .field("serial", &self.serial)
            .field("unit", &self.unit.as_str())
            .field("accepted", &self.accepted.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn u(s: &str) -> UnitPath {
        UnitPath::parse(s).expect("unit")
    }

    struct Org {
        root: NodeKey,
        city: NodeKey,
        district: NodeKey,
        cell: NodeKey,
    }

    fn org() -> Org {
        Org {
            root: NodeKey::from_seed([1; 32]),
            city: NodeKey::from_seed([2; 32]),
            district: NodeKey::from_seed([3; 32]),
            cell: NodeKey::from_seed([4; 32]),
        }
    }

    fn chain(o: &Org, now: i64) -> Chain {
        Chain(vec![
            Credential::issue(
                &o.root,
                o.city.public(),
                u("hn"),
                roles::ALL,
                now - DAY,
                now + DAY,
                1,
            ),
            Credential::issue(
                &o.city,
                o.district.public(),
                u("hn.d01"),
                roles::ALL,
                now - DAY,
                now + DAY,
                2,
            ),
            Credential::issue(
                &o.district,
                o.cell.public(),
                u("hn.d01.w01.c01"),
                roles::CLERK,
                now - DAY,
                now + DAY,
                3,
            ),
        ])
    }

    #[test]
    fn a_good_chain_validates_and_round_trips() {
        let o = org();
        let c = chain(&o, 1_000_000);
        assert_eq!(c.validate(&o.root.public(), 1_000_000, &[]), Ok(()));
        assert_eq!(Chain::decode(&c.encode()), Ok(c.clone()));
        assert_eq!(Chain::from_file(&c.to_file()), Ok(c.clone()));
        assert_eq!(c.unit(), Some(&u("hn.d01.w01.c01")));
    }

    #[test]
    fn each_fault_has_its_own_reason() {
        let o = org();
        let now = 1_000_000;
        let root = o.root.public();
        // Does not reach the configured root.
        let other_root = NodeKey::from_seed([9; 32]);
        assert_eq!(
            chain(&o, now).validate(&other_root.public(), now, &[]),
            Err(ChainError::WrongRoot)
        );
        // An expired link.
        let mut c = chain(&o, now);
        c.0[1] = Credential::issue(
            &o.city,
            o.district.public(),
            u("hn.d01"),
            roles::ALL,
            now - 3 * DAY,
            now - DAY,
            2,
        );
        assert_eq!(c.validate(&root, now, &[]), Err(ChainError::Expired(1)));
        // A unit outside its issuer's unit.
        let mut c = chain(&o, now);
        c.0[2] = Credential::issue(
            &o.district,
            o.cell.public(),
            u("hn.d02.w01.c01"),
            roles::CLERK,
            now - DAY,
            now + DAY,
            3,
        );
        assert_eq!(
            c.validate(&root, now, &[]),
            Err(ChainError::UnitOutsideIssuer(2))
        );
        // A bad signature (a field changed after signing).
        let mut c = chain(&o, now);
        c.0[2].unit = u("hn.d01.w01.c02");
        assert_eq!(
            c.validate(&root, now, &[]),
            Err(ChainError::BadSignature(2))
        );
        // Not yet valid; broken link; delegation by a non-issuer.
        let mut c = chain(&o, now);
        c.0[0] = Credential::issue(
            &o.root,
            o.city.public(),
            u("hn"),
            roles::ALL,
            now + DAY,
            now + 2 * DAY,
            1,
        );
        assert_eq!(c.validate(&root, now, &[]), Err(ChainError::NotYetValid(0)));
        let mut c = chain(&o, now);
        c.0.remove(1);
        assert_eq!(c.validate(&root, now, &[]), Err(ChainError::BrokenLink(1)));
        let mut c = chain(&o, now);
        c.0[1] = Credential::issue(
            &o.city,
            o.district.public(),
            u("hn.d01"),
            roles::CLERK,
            now - DAY,
            now + DAY,
            2,
        );
        assert_eq!(c.validate(&root, now, &[]), Err(ChainError::NotAnIssuer(2)));
        assert_eq!(
            Chain(vec![]).validate(&root, now, &[]),
            Err(ChainError::Empty)
        );
        assert!(matches!(
            Chain::decode(&[3, 0]),
            Err(ChainError::Malformed(_))
        ));
    }

    #[test]
    fn revocation_by_an_ancestor() {
        let o = org();
        let now = 1_000_000;
        let root = o.root.public();
        let c = chain(&o, now);
        let district_chain = Chain(c.0[..2].to_vec());
        let r = Revocation::issue(
            &o.district,
            o.cell.public(),
            0,
            u("hn.d01"),
            now,
            vec![[7; 32]],
        );
        let r = Revocation::decode(&r.encode()).expect("decode");
        assert_eq!(r.validate(&root, Some(&district_chain), now, &[]), Ok(()));
        assert_eq!(
            c.validate(&root, now, std::slice::from_ref(&r)),
            Err(ChainError::Revoked(2))
        );
        assert!(r.accepted_before(&[7; 32]));
        assert!(!r.accepted_before(&[8; 32]));
        // The district's own chain is unaffected.
        assert_eq!(
            district_chain.validate(&root, now, std::slice::from_ref(&r)),
            Ok(())
        );
        // A cell cannot revoke for a unit outside its own.
        let cell_r = Revocation::issue(&o.cell, o.district.public(), 0, u("hn.d01"), now, vec![]);
        assert!(cell_r.validate(&root, Some(&c), now, &[]).is_err());
        // A forged revocation fails its signature.
        let mut forged = r.clone();
        forged.serial = 5;
        assert_eq!(
            forged.validate(&root, Some(&district_chain), now, &[]),
            Err(ChainError::BadSignature(0))
        );
    }

    #[test]
    fn requests_prove_possession() {
        let k = NodeKey::from_seed([5; 32]);
        let r = CredentialRequest::new(&k, u("hn.d01.w01"));
        let back = CredentialRequest::from_text(&r.to_text()).expect("parse");
        assert_eq!(back, r);
        let other = NodeKey::from_seed([6; 32]);
        let forged = r
            .to_text()
            .replace(&k.public().to_hex(), &other.public().to_hex());
        assert!(CredentialRequest::from_text(&forged).is_err());
        assert_eq!(
            roles::parse("clerk,issuer"),
            Some(roles::CLERK | roles::ISSUER)
        );
        assert_eq!(roles::parse("boss"), None);
    }
}
