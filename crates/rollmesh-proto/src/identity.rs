//! Node identity: the ed25519 key a node signs with, its public key, and the node id — a short,
//! human-checkable fingerprint of the public key (base32 with a Luhn mod 32 check character, in the manner
//! of Syncthing's device ids) that clerks compare by eye.

use std::fmt;
use std::str::FromStr;

use automerge::ActorId;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const KEY_FILE_HEADER: &str = "rollmesh-node-key-v1";

/// A node's secret signing key.
pub struct NodeKey(SigningKey);

impl NodeKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        NodeKey(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// A key from a 32-byte seed (deterministic; for tests and generators).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        NodeKey(SigningKey::from_bytes(&seed))
    }

    /// The public half.
    pub fn public(&self) -> NodePublicKey {
        NodePublicKey(self.0.verifying_key().to_bytes())
    }

    /// The 32-byte secret seed (to derive the node's TLS identity from the same key).
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Signs `message` (callers add their own domain separation).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// The key file text: a header line, then the 32-byte secret seed in hex.
    pub fn to_file_text(&self) -> String {
        format!("{KEY_FILE_HEADER}\n{}\n", hex(&self.0.to_bytes()))
    }

    /// Parses key file text written by [`NodeKey::to_file_text`].
    pub fn from_file_text(text: &str) -> Result<Self, NodeIdError> {
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(KEY_FILE_HEADER) {
            return Err(NodeIdError::KeyFile);
        }
        let seed = lines
            .next()
            .and_then(|l| unhex(l.trim()))
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(NodeIdError::KeyFile)?;
        Ok(NodeKey::from_seed(seed))
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({})", self.public().node_id())
    }
}

/// A node's ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodePublicKey(pub [u8; 32]);

impl NodePublicKey {
    /// The node id (fingerprint) of this key.
    pub fn node_id(&self) -> NodeId {
        let digest = Sha256::digest(self.0);
        let mut body = [0u8; 20];
        // 20 base32 characters = 100 bits of the digest, MSB first.
        let mut acc: u32 = 0;
        let mut bits = 0;
        let mut out = 0;
        for byte in digest.iter() {
            acc = (acc << 8) | u32::from(*byte);
            bits += 8;
            while bits >= 5 && out < 20 {
                bits -= 5;
                body[out] = B32[((acc >> bits) & 31) as usize];
                out += 1;
            }
            if out == 20 {
                break;
            }
        }
        let check = luhn32(&body);
        let mut chars = [0u8; 21];
        chars[..20].copy_from_slice(&body);
        chars[20] = check;
        NodeId(chars)
    }

    /// Lowercase hex of the key.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        unhex(s.trim())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(NodePublicKey)
    }

    /// The ed25519 verifying key, if these bytes are a valid curve point.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        VerifyingKey::from_bytes(&self.0).ok()
    }
}

impl fmt::Debug for NodePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodePublicKey({})", self.node_id())
    }
}

/// The Automerge actor id a node's changes must carry: the first 16 bytes of its public key. Binding the
/// actor to the key stops one node from writing changes under another node's actor (which would collide
/// with that node's sequence numbers and block its later changes).
pub fn actor_for(key: &NodePublicKey) -> ActorId {
    ActorId::from(&key.0[..16])
}

/// A node id: 20 base32 characters of SHA-256(public key) and one check character, shown as three groups
/// of seven (`ABCDEFG-HIJKLMN-OPQRSTU`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId([u8; 21]);

/// Why text is not a node id, or a key file is unreadable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NodeIdError {
    /// Not 21 base32 characters.
    #[error("a node id has 21 letters and digits 2-7, e.g. ABCDEFG-HIJKLMN-OPQRSTU")]
    Format,
    /// The check character does not match: a typo.
    #[error("node id check character does not match (typo?)")]
    Check,
    /// The key file is not in the expected format.
    #[error("node key file is not in the rollmesh-node-key-v1 format")]
    KeyFile,
}

impl NodeId {
    /// The id without separators.
    pub fn compact(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.compact();
        write!(f, "{}-{}-{}", &s[..7], &s[7..14], &s[14..])
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let chars: Vec<u8> = s
            .bytes()
            .filter(|b| *b != b'-' && *b != b' ')
            .map(|b| b.to_ascii_uppercase())
            .collect();
        if chars.len() != 21 || !chars.iter().all(|c| B32.contains(c)) {
            return Err(NodeIdError::Format);
        }
        if luhn32(&chars[..20]) != chars[20] {
            return Err(NodeIdError::Check);
        }
        let mut arr = [0u8; 21];
        arr.copy_from_slice(&chars);
        Ok(NodeId(arr))
    }
}

/// Luhn mod 32 check character over base32 characters.
fn luhn32(chars: &[u8]) -> u8 {
    let mut factor = 2;
    let mut sum = 0u32;
    for c in chars.iter().rev() {
        let code = B32.iter().position(|x| x == c).unwrap_or(0) as u32;
        let addend = factor * code;
        factor = if factor == 2 { 1 } else { 2 };
        sum += addend / 32 + addend % 32;
    }
    B32[((32 - sum % 32) % 32) as usize]
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses hex (either case); `None` on odd length or a non-hex character.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_round_trips_and_catches_typos() {
        let k = NodeKey::from_seed([7; 32]).public();
        let id = k.node_id();
        let text = id.to_string();
        assert_eq!(text.len(), 23);
        assert_eq!(text.parse::<NodeId>(), Ok(id));
        assert_eq!(id.compact().to_lowercase().parse::<NodeId>(), Ok(id));
        // Change one character: the check character catches it.
        let mut bad: Vec<char> = text.chars().collect();
        bad[3] = if bad[3] == 'A' { 'B' } else { 'A' };
        let bad: String = bad.into_iter().collect();
        assert_eq!(bad.parse::<NodeId>(), Err(NodeIdError::Check));
        assert_eq!("short".parse::<NodeId>(), Err(NodeIdError::Format));
    }

    #[test]
    fn key_file_round_trips() {
        let k = NodeKey::generate();
        let back = NodeKey::from_file_text(&k.to_file_text()).expect("parse");
        assert_eq!(back.public(), k.public());
        assert_eq!(
            NodeKey::from_file_text("garbage").err(),
            Some(NodeIdError::KeyFile)
        );
    }

    #[test]
    fn distinct_keys_have_distinct_ids_and_actors() {
        let a = NodeKey::from_seed([1; 32]).public();
        let b = NodeKey::from_seed([2; 32]).public();
        assert_ne!(a.node_id(), b.node_id());
        assert_ne!(actor_for(&a), actor_for(&b));
    }
}
