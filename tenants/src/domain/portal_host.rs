use std::fmt;

use super::InvalidValue;

/// A host name a clinic's portal can be reached on, such as
/// `portal.northclinic.org`: lowercase, at least one dot, DNS label rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalHost(String);

impl PortalHost {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidValue> {
        let host = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = host.len() <= 253
            && host.contains('.')
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if valid {
            Ok(Self(host))
        } else {
            Err(InvalidValue::new(
                field,
                "must be a host name such as portal.example-clinic.org",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PortalHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_lowercased_and_checked() {
        assert_eq!(
            PortalHost::parse("h", " Portal.North-Clinic.org. ")
                .unwrap()
                .as_str(),
            "portal.north-clinic.org"
        );
        for bad in [
            "",
            "localhost",
            "a..b",
            "-a.org",
            "a-.org",
            "a b.org",
            "x.org/path",
            "évian.fr",
        ] {
            assert!(PortalHost::parse("h", bad).is_err(), "{bad}");
        }
    }
}
