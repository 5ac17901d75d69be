use std::fmt;

use super::InvalidValue;

/// A portal login name, unique within a clinic: 3 to 64 characters of
/// letters, digits and `. _ - @ +`, compared without case. Family members
/// who share one email address each pick their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        let ok = (3..=64).contains(&trimmed.len())
            && trimmed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-@+".contains(c));
        if !ok {
            return Err(InvalidValue::new(
                "username",
                "must be 3 to 64 letters, digits or . _ - @ +",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_plain_and_case_blind() {
        let u = Username::parse(" Mia.Wong ").unwrap();
        assert_eq!(u.as_str(), "Mia.Wong");
        assert_eq!(u.normalized(), "mia.wong");
        for bad in ["ab", "mia wong", "mia/wong", &"x".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }
}
