//! Values on a patient record.

use std::fmt;

use super::InvalidValue;

/// A date of birth, `YYYY-MM-DD`, between 1900-01-01 and today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateOfBirth(time::Date);

impl DateOfBirth {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = time::Date::parse(raw.trim(), &format).map_err(|_| {
            InvalidValue::new("date_of_birth", "must be a date written as YYYY-MM-DD")
        })?;
        let today = time::OffsetDateTime::now_utc().date();
        if date > today {
            return Err(InvalidValue::new(
                "date_of_birth",
                "must not be in the future",
            ));
        }
        if date.year() < 1900 {
            return Err(InvalidValue::new(
                "date_of_birth",
                "must be in 1900 or later",
            ));
        }
        Ok(Self(date))
    }

    pub fn date(self) -> time::Date {
        self.0
    }
}

impl fmt::Display for DateOfBirth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month() as u8,
            self.0.day()
        )
    }
}

/// A phone number as people write it: digits with spaces, dashes, dots,
/// brackets and a leading `+`; 5 to 20 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        let digits = trimmed.chars().filter(char::is_ascii_digit).count();
        let allowed = trimmed
            .char_indices()
            .all(|(i, c)| c.is_ascii_digit() || " -.()".contains(c) || (c == '+' && i == 0));
        if !allowed || !(5..=20).contains(&digits) || trimmed.len() > 32 {
            return Err(InvalidValue::new(
                "phone",
                "must be a phone number of 5 to 20 digits, such as +1 555 010 0199",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A home zip or postal code: 3 to 10 letters, digits, spaces or hyphens,
/// compared without case or spacing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipCode(String);

impl ZipCode {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        let ok = (3..=10).contains(&trimmed.len())
            && trimmed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
            && trimmed.chars().any(|c| c.is_ascii_alphanumeric());
        if !ok {
            return Err(InvalidValue::new(
                "home_zip",
                "must be a zip or postal code of 3 to 10 letters and digits",
            ));
        }
        Ok(Self(trimmed.to_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For comparing what a patient typed with what is on file.
    pub fn matches(&self, other: &ZipCode) -> bool {
        let squash = |z: &str| {
            z.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        };
        squash(&self.0) == squash(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_birth_are_real_past_dates() {
        assert_eq!(
            DateOfBirth::parse("1984-02-29").unwrap().to_string(),
            "1984-02-29"
        );
        for bad in ["1985-02-29", "29/02/1984", "1899-12-31", "2999-01-01", ""] {
            assert!(DateOfBirth::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn phones_and_zips_accept_what_people_write() {
        assert!(PhoneNumber::parse("+1 (555) 010-0199").is_ok());
        assert!(PhoneNumber::parse("call me").is_err());
        assert!(PhoneNumber::parse("12+34567").is_err());
        let a = ZipCode::parse("sw1a 1aa").unwrap();
        assert_eq!(a.as_str(), "SW1A 1AA");
        assert!(a.matches(&ZipCode::parse("SW1A1AA").unwrap()));
        assert!(ZipCode::parse("<>").is_err());
    }
}
