//! The values a clinic gives when it uploads and activates a plugin.

use portico_plugins::model::Setting;

use crate::domain::InvalidValue;

/// A plugin's name within the clinic, such as `branded-email`: versions
/// uploaded under one name are numbered 1, 2, 3...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginName(String);

impl PluginName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let ok = (1..=64).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::new(
                "name",
                "must be 1 to 64 characters: lowercase letters, digits and hyphens",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The clinic's settings for an active plugin: at most 32, each named in
/// lowercase letters, digits and `_`, each value at most 4,000 characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginSettings(Vec<Setting>);

impl PluginSettings {
    const MAX: usize = 32;
    const MAX_VALUE: usize = 4000;

    pub fn parse(pairs: Vec<(String, String)>) -> Result<Self, InvalidValue> {
        if pairs.len() > Self::MAX {
            return Err(InvalidValue::new(
                "settings",
                format!("at most {} settings", Self::MAX),
            ));
        }
        let mut settings = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let good_name = (1..=40).contains(&name.len())
                && name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !good_name {
                return Err(InvalidValue::new(
                    "settings",
                    format!("setting name {name:?} must be lowercase letters, digits and _"),
                ));
            }
            if value.chars().count() > Self::MAX_VALUE {
                return Err(InvalidValue::new(
                    "settings",
                    format!("setting {name} is over {} characters", Self::MAX_VALUE),
                ));
            }
            if settings.iter().any(|s: &Setting| s.name == name) {
                return Err(InvalidValue::new(
                    "settings",
                    format!("setting {name} is given twice"),
                ));
            }
            settings.push(Setting { name, value });
        }
        Ok(Self(settings))
    }

    pub fn as_slice(&self) -> &[Setting] {
        &self.0
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("settings serialize")
    }

    pub(crate) fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        Ok(Self(serde_json::from_str(json)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_words_with_hyphens() {
        assert!(PluginName::parse("branded-email").is_ok());
        for bad in ["", "Branded", "-x", "a b", "a_b", &"a".repeat(65)] {
            assert!(PluginName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn settings_are_named_plainly_once_each() {
        let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        assert!(PluginSettings::parse(vec![pair("refused_domains", "gmail.com")]).is_ok());
        assert!(PluginSettings::parse(vec![pair("Refused", "x")]).is_err());
        assert!(PluginSettings::parse(vec![pair("a", "1"), pair("a", "2")]).is_err());
        assert!(PluginSettings::parse(vec![pair("a", &"x".repeat(4001))]).is_err());
    }
}
