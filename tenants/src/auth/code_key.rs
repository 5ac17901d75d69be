use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::TenantId;

/// The server's secret for hashing access codes (HMAC-SHA256). A database
/// leak alone then does not allow testing guesses offline. Every server
/// node must share it.
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

    /// The stored form of a code: bound to its tenant, so one clinic's
    /// code can never match at another.
    pub fn hash(&self, tenant: TenantId, canonical_code: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(tenant.to_string().as_bytes());
        mac.update(b":");
        mac.update(canonical_code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
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
