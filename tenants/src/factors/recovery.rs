//! Recovery codes: ten single-use codes for the day the phone is lost,
//! shown once and stored as keyed hashes.

use crate::auth::CodeKey;
use crate::domain::{InvalidValue, TenantId};

/// Crockford's base32: no i, l, o or u, so nothing reads as something else.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const CHARS: usize = 10;

/// How many codes a person is given at a time.
pub const RECOVERY_CODES_PER_SET: usize = 10;

/// One recovery code: 50 random bits, shown as `xxxxx-xxxxx`. A guess is
/// throttled like a password, and the stored form is keyed with the code
/// key, so a copy of the database cannot be searched offline.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

impl RecoveryCode {
    pub fn generate() -> Self {
        let bytes: [u8; CHARS] = rand::random();
        Self(
            bytes
                .iter()
                .map(|b| ALPHABET[usize::from(b % 32)] as char)
                .collect(),
        )
    }

    /// A fresh set of [`RECOVERY_CODES_PER_SET`].
    pub fn set() -> Vec<Self> {
        (0..RECOVERY_CODES_PER_SET)
            .map(|_| Self::generate())
            .collect()
    }

    /// A code as typed: any case, with or without the hyphen or spaces;
    /// the letters Crockford's alphabet leaves out read as the digits they
    /// look like.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let canonical: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| match c.to_ascii_lowercase() {
                'i' | 'l' => '1',
                'o' => '0',
                other => other,
            })
            .collect();
        if canonical.chars().count() != CHARS || !canonical.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(InvalidValue::new(
                "code",
                "must be one of your recovery codes: ten letters and digits, like abcde-12345",
            ));
        }
        Ok(Self(canonical))
    }

    /// As shown to the person, once.
    pub fn shown(&self) -> String {
        format!("{}-{}", &self.0[..5], &self.0[5..])
    }

    /// The stored form, bound to the clinic.
    pub fn hash(&self, key: &CodeKey, tenant: TenantId) -> String {
        key.hash(tenant, &format!("recovery:{}", self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_however_they_are_typed() {
        let code = RecoveryCode::generate();
        let shown = code.shown();
        assert_eq!(shown.len(), 11);
        assert_eq!(RecoveryCode::parse(&shown).unwrap(), code);
        assert_eq!(RecoveryCode::parse(&shown.to_uppercase()).unwrap(), code);
        assert_eq!(RecoveryCode::parse(&shown.replace('-', " ")).unwrap(), code);
        assert_eq!(
            RecoveryCode::parse("0o1il-abcde").unwrap().shown(),
            "00111-abcde"
        );
        assert_eq!(RecoveryCode::parse("abcd-1234").unwrap_err().field, "code");
        assert!(RecoveryCode::parse("abcde-1234u").is_err());
        let set = RecoveryCode::set();
        assert_eq!(set.len(), 10);
        assert!(!format!("{code:?}").contains(&shown));
    }

    #[test]
    fn the_stored_form_is_keyed_and_bound_to_the_clinic() {
        let key = CodeKey::generate();
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let code = RecoveryCode::generate();
        assert_eq!(code.hash(&key, a), code.hash(&key, a));
        assert_ne!(code.hash(&key, a), code.hash(&key, b));
        assert!(!code.hash(&key, a).contains(&code.0));
    }
}
