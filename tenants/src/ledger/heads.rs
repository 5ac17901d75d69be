//! Signed tree heads: the server's signed statement that a clinic's log
//! held `size` events with root `root` at `signed_at`. An auditor who kept
//! one can later ask for proofs against it, and a log that was rewritten
//! since can no longer produce them.
//!
//! The signed bytes, as docs/audit.md gives them:
//!
//! ```text
//! "portico-tree-head/1"          (19 bytes, no terminator)
//! tenant_id                      u32-be(len) utf8
//! size                           u64, big-endian
//! root                           32 bytes
//! signed_at                      i64, big-endian, milliseconds since 1970 UTC
//! ```
//!
//! signed with Ed25519 (RFC 8032). A key is named by the first 8 bytes of
//! SHA-256 of its 32-byte public key, in hex.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::LeafHash;
use crate::auth::CodeKey;

/// What identifies the encoding of a head.
pub const DOMAIN_NAME: &str = "portico-tree-head/1";
pub const DOMAIN: &[u8] = DOMAIN_NAME.as_bytes();

/// A clinic's log at one moment, as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    pub tenant_id: String,
    pub size: u64,
    pub root: LeafHash,
    pub signed_at: i64,
}

impl TreeHead {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DOMAIN.len() + 4 + self.tenant_id.len() + 48);
        out.extend_from_slice(DOMAIN);
        let len = u32::try_from(self.tenant_id.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(self.tenant_id.as_bytes());
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.root);
        out.extend_from_slice(&self.signed_at.to_be_bytes());
        out
    }
}

/// A head with its signature and the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    pub id: String,
    pub head: TreeHead,
    pub key_id: String,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl SignedHead {
    /// Whether the signature is this head's, by the key it names.
    pub fn signature_holds(&self) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.public_key) else {
            return false;
        };
        key_id(&self.public_key) == self.key_id
            && key
                .verify(
                    &self.head.to_bytes(),
                    &Signature::from_bytes(&self.signature),
                )
                .is_ok()
    }
}

/// The name of a public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(public_key: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// The platform's Ed25519 key for signing tree heads, kept outside the
/// database as the code key is: configured (`PORTICO_AUDIT_KEY`), or
/// derived from the code key, so every node that shares one shares the
/// other. Whoever can read the database alone cannot sign a head.
#[derive(Clone)]
pub struct AuditKey(SigningKey);

impl AuditKey {
    /// A key from its 32-byte seed in hex.
    pub fn from_hex(hex_seed: &str) -> Result<Self, MalformedAuditKey> {
        let bytes = hex::decode(hex_seed.trim()).map_err(|_| MalformedAuditKey)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| MalformedAuditKey)?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The key derived from the code key, for a platform that configures
    /// none of its own: never the code key itself.
    pub fn derived_from(code_key: &CodeKey) -> Self {
        Self(SigningKey::from_bytes(
            &code_key.derive(b"portico audit head signing v1"),
        ))
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    pub fn key_id(&self) -> String {
        key_id(&self.public_key())
    }

    pub fn sign(&self, id: String, head: TreeHead) -> SignedHead {
        let signature = self.0.sign(&head.to_bytes()).to_bytes();
        SignedHead {
            id,
            head,
            key_id: self.key_id(),
            public_key: self.public_key(),
            signature,
        }
    }
}

/// An audit key's public half in hex, as `/.well-known/portico-audit-key`
/// published it: how a platform names a key it has rotated away from, so
/// that the heads signed with it are still trusted.
pub fn parse_public_key(hex_key: &str) -> Result<[u8; 32], MalformedPublicKey> {
    let bytes = hex::decode(hex_key.trim()).map_err(|_| MalformedPublicKey)?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| MalformedPublicKey)?;
    VerifyingKey::from_bytes(&key).map_err(|_| MalformedPublicKey)?;
    Ok(key)
}

/// A retired audit key that is not an Ed25519 public key in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a retired audit key must be an Ed25519 public key in 64 hexadecimal characters, \
     as /.well-known/portico-audit-key published it"
)]
pub struct MalformedPublicKey;

/// A configured audit key that is not 64 hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the audit key must be 64 hexadecimal characters (a 32-byte Ed25519 seed)")]
pub struct MalformedAuditKey;

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.key_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> TreeHead {
        TreeHead {
            tenant_id: "t1".into(),
            size: 5,
            root: [7; 32],
            signed_at: 1_795_000_000_000,
        }
    }

    #[test]
    fn the_signed_bytes_are_the_documented_ones() {
        let mut expected = b"portico-tree-head/1".to_vec();
        expected.extend_from_slice(&2u32.to_be_bytes());
        expected.extend_from_slice(b"t1");
        expected.extend_from_slice(&5u64.to_be_bytes());
        expected.extend_from_slice(&[7; 32]);
        expected.extend_from_slice(&1_795_000_000_000_i64.to_be_bytes());
        assert_eq!(head().to_bytes(), expected);
    }

    #[test]
    fn a_signature_holds_only_for_its_head_and_key() {
        let key = AuditKey::from_hex(&hex::encode([1; 32])).unwrap();
        let signed = key.sign("h1".into(), head());
        assert!(signed.signature_holds());
        assert_eq!(signed.key_id.len(), 16);

        let mut grown = signed.clone();
        grown.head.size = 6;
        assert!(!grown.signature_holds(), "a changed size");
        let mut moved = signed.clone();
        moved.head.tenant_id = "t2".into();
        assert!(!moved.signature_holds(), "another clinic");
        let other = AuditKey::derived_from(&CodeKey::generate());
        let mut forged = other.sign("h1".into(), head());
        forged.key_id = signed.key_id.clone();
        assert!(!forged.signature_holds(), "a key that is not the one named");
        assert_ne!(key.public_key(), other.public_key());
        assert_eq!(
            AuditKey::from_hex(&hex::encode([3; 32]))
                .unwrap()
                .public_key(),
            AuditKey::from_hex(&hex::encode([3; 32]))
                .unwrap()
                .public_key()
        );
    }
}
