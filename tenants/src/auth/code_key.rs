use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::TenantId;

/// The server's secret, kept outside the database (a file, or the
/// `PORTICO_CODE_KEY` setting). It hashes access codes (HMAC-SHA256), so a
/// database leak alone does not allow testing guesses offline, and it seals
/// the one-time secrets a queued mail carries (AES-256-GCM under a key
/// derived from it), so no plain code or token is ever written to a
/// database file. Every server node must share it.
#[derive(Clone)]
pub struct CodeKey([u8; 32]);

#[derive(Debug, thiserror::Error)]
pub enum CodeKeyError {
    #[error("the code key must be 64 hexadecimal characters (32 bytes)")]
    Malformed,
    #[error("cannot read or create the code key file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl CodeKey {
    pub fn from_hex(hex_key: &str) -> Result<Self, CodeKeyError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| CodeKeyError::Malformed)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CodeKeyError::Malformed)?;
        Ok(Self(key))
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
        Self(key)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads the key from `path`, creating it (readable by its owner only)
    /// on first use. For the single-node embedded default.
    pub fn load_or_create(path: &std::path::Path) -> Result<Self, CodeKeyError> {
        let file_error = |source| CodeKeyError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(&text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                write_private(path, &key.to_hex()).map_err(file_error)?;
                Ok(key)
            }
            Err(err) => Err(file_error(err)),
        }
    }

    /// A secret for another `purpose`, derived from this key (HMAC-SHA256
    /// of the purpose), so that it is never this key itself.
    pub(crate) fn derive(&self, purpose: &[u8]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose);
        mac.finalize().into_bytes().into()
    }

    /// The stored form of a code: bound to its tenant, so one clinic's
    /// code can never match at another.
    pub fn hash(&self, tenant: TenantId, canonical_code: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(tenant.to_string().as_bytes());
        mac.update(b":");
        mac.update(canonical_code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The prefix of a sealed value: its scheme, for a later one to live beside.
const SEALED_V1: &str = "v1.";

impl CodeKey {
    /// The sealing key, derived so that it is never the hashing key.
    fn sealing_cipher(&self) -> Aes256Gcm {
        <Aes256Gcm as KeyInit>::new_from_slice(&self.derive(b"portico outbox sealing v1"))
            .expect("32 bytes")
    }

    /// Seals `secrets` for `tenant`: only a server holding this key can open
    /// them, and only for that tenant. A fresh random 96-bit nonce each time
    /// (AES-GCM stays safe to about 2^32 sealings per key; a clinic's mail
    /// is far from it, and rotating the key starts the count again).
    pub fn seal(&self, tenant: TenantId, secrets: &serde_json::Value) -> String {
        let nonce: [u8; 12] = rand::random();
        let aad = tenant.to_string();
        let sealed = self
            .sealing_cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secrets.to_string().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("sealing cannot fail for a bounded message");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{SEALED_V1}{}", B64.encode(out))
    }

    /// Opens what [`CodeKey::seal`] sealed for `tenant`; `None` when it was
    /// sealed under another key, for another tenant, or altered.
    pub fn unseal(&self, tenant: TenantId, sealed: &str) -> Option<serde_json::Value> {
        let bytes = B64.decode(sealed.strip_prefix(SEALED_V1)?).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let aad = tenant.to_string();
        let plain = self
            .sealing_cipher()
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(<redacted>)")
    }
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_tenant() {
        let key = CodeKey::generate();
        let north = TenantId::generate();
        let secret = serde_json::json!({"code": "abacus-zoom-tidy-plant"});
        let sealed = key.seal(north, &secret);
        assert!(!sealed.contains("abacus"), "{sealed}");
        assert_ne!(sealed, key.seal(north, &secret), "a fresh nonce each time");
        assert_eq!(key.unseal(north, &sealed), Some(secret));
        assert_eq!(key.unseal(TenantId::generate(), &sealed), None);
        assert_eq!(CodeKey::generate().unseal(north, &sealed), None);
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            key.unseal(north, &String::from_utf8(altered).unwrap()),
            None
        );
    }

    #[test]
    fn hashes_are_keyed_and_bound_to_the_tenant() {
        let key = CodeKey::generate();
        let (a, b) = (TenantId::generate(), TenantId::generate());
        assert_eq!(key.hash(a, "abacuszoom"), key.hash(a, "abacuszoom"));
        assert_ne!(key.hash(a, "abacuszoom"), key.hash(b, "abacuszoom"));
        assert_ne!(
            key.hash(a, "abacuszoom"),
            CodeKey::generate().hash(a, "abacuszoom")
        );
    }

    #[test]
    fn the_key_file_is_created_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("code.key");
        let first = CodeKey::load_or_create(&path).unwrap();
        let again = CodeKey::load_or_create(&path).unwrap();
        assert_eq!(first.to_hex(), again.to_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(CodeKey::from_hex("abc").is_err());
    }
}
