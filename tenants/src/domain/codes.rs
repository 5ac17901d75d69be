//! Values about access codes that are not the code itself.

use std::fmt;
use std::time::Duration;

use super::InvalidValue;

/// How an access code reaches the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeDelivery {
    /// An emailed access link (the preferred path).
    Email,
    /// A printed handout given in person.
    Print,
}

impl CodeDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Print => "print",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "email" => Ok(Self::Email),
            "print" => Ok(Self::Print),
            _ => Err(InvalidValue::new("delivery", "must be email or print")),
        }
    }
}

impl fmt::Display for CodeDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a Medical Records Access Code lives: from one hour up to five
/// days. A clinic may shorten it, never lengthen it past five days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CodeLifetime(Duration);

impl CodeLifetime {
    pub const MAX: CodeLifetime = CodeLifetime(Duration::from_secs(5 * 24 * 3600));
    pub const MIN: CodeLifetime = CodeLifetime(Duration::from_secs(3600));

    pub fn from_secs(secs: u64) -> Result<Self, InvalidValue> {
        let d = Duration::from_secs(secs);
        if d > Self::MAX.0 {
            return Err(InvalidValue::new(
                "code_lifetime_hours",
                "must be at most 120 hours (5 days)",
            ));
        }
        if d < Self::MIN.0 {
            return Err(InvalidValue::new(
                "code_lifetime_hours",
                "must be at least 1 hour",
            ));
        }
        Ok(Self(d))
    }

    pub fn from_hours(hours: u32) -> Result<Self, InvalidValue> {
        Self::from_secs(u64::from(hours) * 3600)
    }

    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_stop_at_five_days() {
        assert_eq!(CodeLifetime::from_hours(120).unwrap(), CodeLifetime::MAX);
        assert!(CodeLifetime::from_hours(121).is_err());
        assert!(CodeLifetime::from_hours(0).is_err());
        assert_eq!(CodeLifetime::from_hours(24).unwrap().as_secs(), 86_400);
    }
}
