//! A patient's age on a given day, and the stages the clinic's age rules
//! cut a childhood into.

use time::{Date, Month};

use crate::domain::InvalidValue;

/// What a parent's proxy sees of a teenager's record: the clinic may
/// narrow or widen it. Notes and confidential items are never in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitedParts {
    pub appointments: bool,
    pub messages: bool,
    pub documents: bool,
}

impl Default for LimitedParts {
    fn default() -> Self {
        Self {
            appointments: true,
            messages: true,
            documents: true,
        }
    }
}

/// The clinic's age rules; the defaults are MyChart's. The limited view
/// always starts before adulthood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeRules {
    /// From this birthday a parent's proxy sees the limited view.
    limited_from: u8,
    /// On this birthday a parent's proxy ends.
    adult_at: u8,
    limited_parts: LimitedParts,
}

/// The youngest and oldest age of majority a clinic may set.
pub const ADULT_AGES: std::ops::RangeInclusive<i64> = 16..=21;

impl AgeRules {
    pub fn new(
        limited_from: i64,
        adult_at: i64,
        limited_parts: LimitedParts,
    ) -> Result<Self, InvalidValue> {
        if !ADULT_AGES.contains(&adult_at) {
            return Err(InvalidValue::new(
                "adult_age",
                "must be a whole number of years from 16 to 21",
            ));
        }
        if !(1..adult_at).contains(&limited_from) {
            return Err(InvalidValue {
                field: "proxy_limited_from_age",
                reason: format!(
                    "must be a whole number of years from 1 to {}, below the adult age",
                    adult_at - 1
                ),
            });
        }
        Ok(Self {
            limited_from: limited_from as u8,
            adult_at: adult_at as u8,
            limited_parts,
        })
    }

    pub fn limited_from(&self) -> u8 {
        self.limited_from
    }

    pub fn adult_at(&self) -> u8 {
        self.adult_at
    }

    pub fn limited_parts(&self) -> LimitedParts {
        self.limited_parts
    }
}

impl Default for AgeRules {
    fn default() -> Self {
        Self {
            limited_from: 12,
            adult_at: 18,
            limited_parts: LimitedParts::default(),
        }
    }
}

/// Where a patient stands under the clinic's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A parent's proxy sees the whole record.
    Child,
    /// A parent's proxy sees the limited view.
    Teen,
    /// No parent's proxy: the patient decides who else sees the record.
    Adult,
}

impl AgeRules {
    pub fn stage(&self, born: Date, on: Date) -> Stage {
        let age = age_on(born, on);
        if age >= u32::from(self.adult_at) {
            Stage::Adult
        } else if age >= u32::from(self.limited_from) {
            Stage::Teen
        } else {
            Stage::Child
        }
    }
}

/// Whole years from `born` to `on`. Someone born on 29 February has their
/// birthday on 1 March in a common year, as English law reads it: until
/// then they have not reached the age, so a parent's view narrows or ends
/// a day later, never earlier, than under the other reading.
pub fn age_on(born: Date, on: Date) -> u32 {
    if on < born {
        return 0;
    }
    let years = (on.year() - born.year()) as u32;
    let birthday_this_year = birthday_in(born, on.year());
    if on < birthday_this_year {
        years - 1
    } else {
        years
    }
}

/// The day someone born on `born` turns `age`, by the same reading as
/// [`age_on`].
pub fn birthday(born: Date, age: u8) -> Date {
    birthday_in(born, born.year() + i32::from(age))
}

fn birthday_in(born: Date, year: i32) -> Date {
    Date::from_calendar_date(year, born.month(), born.day()).unwrap_or_else(|_| {
        // 29 February in a common year.
        Date::from_calendar_date(year, Month::March, 1).expect("1 March exists")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn an_age_turns_on_the_birthday_not_before() {
        let born = date!(2014 - 06 - 15);
        assert_eq!(age_on(born, date!(2026 - 06 - 14)), 11);
        assert_eq!(age_on(born, date!(2026 - 06 - 15)), 12);
        assert_eq!(age_on(born, date!(2026 - 06 - 16)), 12);
        assert_eq!(age_on(born, date!(2014 - 06 - 15)), 0);
        assert_eq!(age_on(born, date!(2010 - 01 - 01)), 0, "not born yet");
    }

    #[test]
    fn a_leap_day_birthday_comes_on_the_first_of_march_in_a_common_year() {
        let born = date!(2008 - 02 - 29);
        assert_eq!(age_on(born, date!(2026 - 02 - 28)), 17);
        assert_eq!(age_on(born, date!(2026 - 03 - 01)), 18);
        assert_eq!(age_on(born, date!(2028 - 02 - 29)), 20);
    }

    #[test]
    fn the_stages_follow_the_rules_on_the_day_before_of_and_after() {
        let rules = AgeRules::default();
        let born = date!(2008 - 11 - 27);
        assert_eq!(rules.stage(born, date!(2020 - 11 - 26)), Stage::Child);
        assert_eq!(rules.stage(born, date!(2020 - 11 - 27)), Stage::Teen);
        assert_eq!(rules.stage(born, date!(2026 - 11 - 26)), Stage::Teen);
        assert_eq!(rules.stage(born, date!(2026 - 11 - 27)), Stage::Adult);
        assert_eq!(rules.stage(born, date!(2026 - 11 - 28)), Stage::Adult);
        let later = AgeRules::new(13, 18, LimitedParts::default()).unwrap();
        assert_eq!(later.stage(born, date!(2020 - 11 - 27)), Stage::Child);
    }

    #[test]
    fn rules_that_would_limit_after_adulthood_are_refused_by_field() {
        let parts = LimitedParts::default();
        assert_eq!(AgeRules::new(12, 15, parts).unwrap_err().field, "adult_age");
        assert_eq!(AgeRules::new(12, 22, parts).unwrap_err().field, "adult_age");
        let late = AgeRules::new(18, 18, parts).unwrap_err();
        assert_eq!(late.field, "proxy_limited_from_age");
        assert!(late.reason.contains("from 1 to 17"), "{}", late.reason);
        assert_eq!(
            AgeRules::new(0, 18, parts).unwrap_err().field,
            "proxy_limited_from_age"
        );
        assert_eq!(AgeRules::new(12, 18, parts).unwrap(), AgeRules::default());
    }
}
