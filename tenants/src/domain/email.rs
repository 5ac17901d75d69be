use std::fmt;

use super::InvalidValue;

/// An email address as a person typed it, checked against RFC 5321/5322
/// syntax by the `email_address` crate (hand-written regexes get this wrong),
/// and compared case-insensitively through its [`normalized`](Self::normalized) form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidValue::new("email", "is required"));
        }
        if trimmed.len() > Self::MAX_LEN {
            return Err(InvalidValue::new("email", "must be at most 254 characters"));
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            trimmed,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .map_err(|err| InvalidValue::new("email", format!("is not a valid address ({err})")))?;
        if !parsed.domain().contains('.') {
            return Err(InvalidValue::new(
                "email",
                "must have a domain such as example.org",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for lookups and uniqueness: mailbox providers treat
    /// addresses case-insensitively in practice, so we do too.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    /// Only the domain, for logs: an address is personal data.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_for_lookup_but_keeps_what_was_typed() {
        let e = EmailAddress::parse("  Ada@Example.ORG ").unwrap();
        assert_eq!(e.as_str(), "Ada@Example.ORG");
        assert_eq!(e.normalized(), "ada@example.org");
        assert_eq!(e.domain(), "Example.ORG");
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@localhost",
            "a b@example.org",
            "Ada <ada@example.org>",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
