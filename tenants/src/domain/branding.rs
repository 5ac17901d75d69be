use std::fmt;

use super::InvalidValue;

/// A CSS colour written `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Colour(String);

impl Colour {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        let ok = raw.len() == 7
            && raw.starts_with('#')
            && raw[1..].chars().all(|c| c.is_ascii_hexdigit());
        if ok {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(InvalidValue::new(
                field,
                "must be a colour written #rrggbb, such as #0b6e4f",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The address of a clinic's logo: `https://`, at most 500 characters,
/// nothing that could break out of an HTML attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoUrl(String);

impl LogoUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        let ok = raw.starts_with("https://")
            && raw.len() > "https://".len()
            && raw.len() <= 500
            && !raw
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "\"'<>\\`".contains(c));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::new(
                "logo_url",
                "must be an https:// address of at most 500 characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_logos_are_checked() {
        assert_eq!(Colour::parse("c", "#0B6E4F").unwrap().as_str(), "#0b6e4f");
        for bad in ["0b6e4f", "#0b6e4", "#zzzzzz", "red"] {
            assert!(Colour::parse("c", bad).is_err(), "{bad}");
        }
        assert!(LogoUrl::parse("https://north.example.org/logo.png").is_ok());
        for bad in [
            "http://x.org/l.png",
            "https://",
            "https://x.org/\"onload=",
            "javascript:alert(1)",
        ] {
            assert!(LogoUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
