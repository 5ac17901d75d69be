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

    /// WCAG 2 contrast ratio between two colours, 1.0 to 21.0. Normal text
    /// needs 4.5 to be readable by people with moderately low vision.
    pub fn contrast_ratio(&self, other: &Colour) -> f64 {
        let (a, b) = (self.relative_luminance(), other.relative_luminance());
        let (light, dark) = if a > b { (a, b) } else { (b, a) };
        (light + 0.05) / (dark + 0.05)
    }

    fn relative_luminance(&self) -> f64 {
        let channel = |i: usize| {
            let v = f64::from(u8::from_str_radix(&self.0[i..i + 2], 16).unwrap_or(0)) / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
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
    fn contrast_follows_wcag() {
        let c = |raw| Colour::parse("c", raw).unwrap();
        assert!((c("#000000").contrast_ratio(&c("#ffffff")) - 21.0).abs() < 1e-9);
        assert!((c("#777777").contrast_ratio(&c("#777777")) - 1.0).abs() < 1e-9);
        // The default brand colour under white text: 6.3:1.
        let r = c("#0b6e4f").contrast_ratio(&c("#ffffff"));
        assert!((6.2..6.4).contains(&r), "{r}");
        // The order of the two does not matter.
        assert_eq!(
            c("#ffcc00").contrast_ratio(&c("#1d2433")),
            c("#1d2433").contrast_ratio(&c("#ffcc00"))
        );
    }

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
