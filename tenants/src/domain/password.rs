use std::fmt;

use super::InvalidValue;

/// A password as submitted at login. Never printed: `Debug` is redacted so
/// it cannot reach a log by accident.
#[derive(Clone)]
pub struct PlainPassword(String);

impl PlainPassword {
    /// Longer input is refused before hashing so it cannot be used to make
    /// the server hash megabytes.
    pub const MAX_LEN: usize = 256;

    pub fn new(raw: String) -> Result<Self, InvalidValue> {
        if raw.len() > Self::MAX_LEN {
            return Err(InvalidValue::new(
                "password",
                "must be at most 256 characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainPassword(<redacted>)")
    }
}

/// A password someone is choosing. Follows NIST SP 800-63B: length matters,
/// composition rules do not; at least 12 characters.
#[derive(Clone)]
pub struct NewPassword(PlainPassword);

impl NewPassword {
    pub const MIN_CHARS: usize = 12;

    pub fn parse(raw: String) -> Result<Self, InvalidValue> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(InvalidValue::new(
                "new_password",
                "must be at least 12 characters long",
            ));
        }
        if raw.trim().is_empty() {
            return Err(InvalidValue::new("new_password", "must not be only spaces"));
        }
        // The code opens the record once; a password opens it every day.
        // A password that is a code would make the two one secret.
        if super::looks_like_a_code(&raw) {
            return Err(InvalidValue::new(
                "new_password",
                "is four words like an access code; the access code is not a password, so choose a password of your own",
            ));
        }
        let plain =
            PlainPassword::new(raw).map_err(|e| InvalidValue::new("new_password", e.reason))?;
        Ok(Self(plain))
    }

    pub fn as_plain(&self) -> &PlainPassword {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let p = PlainPassword::new("hunter2-hunter2".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn new_passwords_need_length() {
        assert!(NewPassword::parse("short".into()).is_err());
        assert!(NewPassword::parse("            ".into()).is_err());
        assert!(NewPassword::parse("correct horse battery".into()).is_ok());
    }
}
