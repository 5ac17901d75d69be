use std::fmt;

use super::InvalidValue;

/// A tenant's slug: the label in `{slug}.{base domain}` and in `/t/{slug}/`.
///
/// It must be a valid DNS label, so 2 to 40 lowercase ASCII letters, digits
/// and inner hyphens; a few names are reserved because the platform uses them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

const RESERVED: &[&str] = &["api", "www", "admin", "operator", "static", "assets", "t"];

impl Slug {
    pub const MAX_LEN: usize = 40;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let invalid = |reason: &str| InvalidValue::new("slug", reason);
        if raw.len() < 2 || raw.len() > Self::MAX_LEN {
            return Err(invalid("must be 2 to 40 characters long"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(
                "may contain only lowercase letters a-z, digits and hyphens",
            ));
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return Err(invalid("must not start or end with a hyphen"));
        }
        if RESERVED.contains(&raw) {
            return Err(invalid("is reserved by the platform"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        assert_eq!(
            Slug::parse("north-clinic2").unwrap().as_str(),
            "north-clinic2"
        );
    }

    #[test]
    fn refuses_odd_characters_case_and_edges() {
        for bad in [
            "Demo", "a", "dr.smith", "-x", "x-", "über", "a b", "api", "a_b",
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Slug::parse(&"a".repeat(41)).is_err());
    }
}
