//! Authenticator apps (RFC 6238): the shared secret, sealed at rest, and
//! the six-digit codes checked against it.

use totp_rs::{Builder, Secret as TotpBytes, Totp};

use crate::auth::CodeKey;
use crate::domain::{InvalidValue, TenantId};

/// RFC 4226 recommends 160 bits.
const SECRET_BYTES: usize = 20;

/// The secret an authenticator app and the server share. Never printed;
/// stored only sealed with the code key ([`TotpSecret::seal`]).
#[derive(Clone)]
pub struct TotpSecret([u8; SECRET_BYTES]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// What a person needs to set up their app: the address a QR code carries
/// and the same secret as text, for typing in by hand.
#[derive(Clone)]
pub struct TotpEnrolment {
    pub otpauth_url: String,
    /// Base32 in groups of four, as apps expect it typed.
    pub secret_text: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment(<redacted>)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        Self(rand::random())
    }

    fn totp(&self, issuer: &str, account: &str) -> Totp {
        // SHA-1, six digits, 30 seconds, one step either side: what every
        // authenticator app supports (some silently ignore other choices).
        Builder::new()
            .with_secret(TotpBytes::new_stack(self.0))
            .with_issuer(Some(without_colons(issuer)))
            .with_account_name(without_colons(account))
            .build()
            .expect("a 160-bit secret, six digits and names without colons are valid")
    }

    /// The enrolment address and text, naming the clinic and the account
    /// in the app's list.
    pub fn enrolment(&self, issuer: &str, account: &str) -> TotpEnrolment {
        let totp = self.totp(issuer, account);
        let base32 = totp.secret().to_base32();
        let secret_text = base32
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        TotpEnrolment {
            otpauth_url: totp.to_url().expect("a valid TOTP has an address"),
            secret_text,
        }
    }

    /// The time step `code` belongs to at `unix_secs`, one step either side
    /// allowed for a clock that drifts, or `None`. A step at or before
    /// `last_step` is refused: a code is accepted once, and never one older
    /// than the last accepted (RFC 6238, section 5.2).
    pub fn accepts(&self, code: &TotpCode, unix_secs: u64, last_step: Option<u64>) -> Option<u64> {
        let step = self.totp("", "").check(&code.0, unix_secs)?;
        match last_step {
            Some(last) if step <= last => None,
            _ => Some(step),
        }
    }

    /// The code an app shows at `unix_secs`: for tests, and for the demo's
    /// banner.
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.totp("", "").generate(unix_secs).to_string()
    }

    /// The secret sealed for `tenant` with the code key, as stored.
    pub fn seal(&self, key: &CodeKey, tenant: TenantId) -> String {
        key.seal(tenant, &serde_json::json!({ "totp": hex::encode(self.0) }))
    }

    /// Opens a stored secret; `None` when it was sealed under another key
    /// or for another clinic.
    pub fn unseal(key: &CodeKey, tenant: TenantId, sealed: &str) -> Option<Self> {
        let opened = key.unseal(tenant, sealed)?;
        let bytes = hex::decode(opened.get("totp")?.as_str()?).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

/// Issuers and account names are joined with a colon in the address.
fn without_colons(name: &str) -> String {
    name.replace(':', " ")
}

/// Six digits from an authenticator app, as typed: spaces and a hyphen in
/// the middle are allowed.
#[derive(Clone)]
pub struct TotpCode(String);

impl std::fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

impl TotpCode {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let digits: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if digits.len() != 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(InvalidValue::new(
                "code",
                "must be the 6 digits your authenticator app shows",
            ));
        }
        Ok(Self(digits))
    }

    /// The six digits, for comparing with a code sent by email.
    pub(crate) fn digits(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_800_000_000;

    fn code(secret: &TotpSecret, at: u64) -> TotpCode {
        TotpCode::parse(&secret.code_at(at)).unwrap()
    }

    #[test]
    fn a_code_counts_one_step_either_side_and_never_twice() {
        let s = TotpSecret::generate();
        let now = T / 30 * 30 + 10;
        let here = now / 30;
        assert_eq!(s.accepts(&code(&s, now - 30), now, None), Some(here - 1));
        assert_eq!(s.accepts(&code(&s, now + 30), now, None), Some(here + 1));
        assert_eq!(s.accepts(&code(&s, now - 60), now, None), None);
        assert_eq!(s.accepts(&code(&s, now + 60), now, None), None);
        // Once a step is used, neither it nor an older one counts again.
        assert_eq!(s.accepts(&code(&s, now), now, Some(here)), None);
        assert_eq!(s.accepts(&code(&s, now - 30), now, Some(here)), None);
        assert_eq!(
            s.accepts(&code(&s, now + 30), now, Some(here)),
            Some(here + 1)
        );
        // Another secret's code does not count.
        assert_eq!(
            TotpSecret::generate().accepts(&code(&s, now), now, None),
            None
        );
    }

    #[test]
    fn the_secret_is_sealed_and_the_enrolment_names_the_clinic() {
        let key = CodeKey::generate();
        let tenant = TenantId::generate();
        let s = TotpSecret::generate();
        let sealed = s.seal(&key, tenant);
        let enrolment = s.enrolment("North Clinic", "mia@north.test");
        let plain = enrolment.secret_text.replace(' ', "");
        assert!(!sealed.contains(&plain));
        let opened = TotpSecret::unseal(&key, tenant, &sealed).unwrap();
        assert_eq!(opened.code_at(T), s.code_at(T));
        assert!(TotpSecret::unseal(&key, TenantId::generate(), &sealed).is_none());
        assert!(enrolment.otpauth_url.starts_with("otpauth://totp/"));
        assert!(enrolment.otpauth_url.contains(&format!("secret={plain}")));
        assert!(
            enrolment.otpauth_url.contains("issuer=North%20Clinic"),
            "{}",
            enrolment.otpauth_url
        );
        assert!(!format!("{s:?}{enrolment:?}").contains(&plain));
    }

    #[test]
    fn codes_are_six_digits_as_typed() {
        assert!(TotpCode::parse("123 456").is_ok());
        assert!(TotpCode::parse("123-456").is_ok());
        assert_eq!(TotpCode::parse("12345").unwrap_err().field, "code");
        assert!(TotpCode::parse("12345a").is_err());
        assert!(TotpCode::parse("１２３４５６").is_err());
    }
}
