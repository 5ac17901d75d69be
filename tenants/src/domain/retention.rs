use super::InvalidValue;

/// How long a clinic keeps its audit events before retention prunes them:
/// at least a year (an audit trail shorter than that serves no auditor;
/// HIPAA's six years, 2,190 days, is the common choice), at most a
/// hundred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RetentionDays(u32);

impl RetentionDays {
    pub const MIN: u32 = 365;
    pub const MAX: u32 = 36_500;

    pub fn new(days: i64) -> Result<Self, InvalidValue> {
        u32::try_from(days)
            .ok()
            .filter(|d| (Self::MIN..=Self::MAX).contains(d))
            .map(Self)
            .ok_or_else(|| {
                InvalidValue::new(
                    "audit_retention_days",
                    format!(
                        "must be a number of days from {} (a year) to {}, such as 2190 for six \
                         years; leave it empty to keep the audit trail forever",
                        Self::MIN,
                        Self::MAX
                    ),
                )
            })
    }

    pub fn days(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_to_a_century() {
        assert_eq!(RetentionDays::new(2190).unwrap().days(), 2190);
        assert!(RetentionDays::new(364).is_err());
        assert!(RetentionDays::new(36_501).is_err());
        assert!(RetentionDays::new(-1).is_err());
        assert_eq!(
            RetentionDays::new(0).unwrap_err().field,
            "audit_retention_days"
        );
    }
}
