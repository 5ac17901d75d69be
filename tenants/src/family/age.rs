//! A patient's age on a given day, and the stages the clinic's age rules
//! cut a childhood into.

use time::{Date, Month};

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

/// The clinic's age rules; the defaults are MyChart's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeRules {
    /// From this birthday a parent's proxy sees the limited view.
    pub limited_from: u8,
    /// On this birthday a parent's proxy ends.
    pub adult_at: u8,
    pub limited_parts: LimitedParts,
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
        let later = AgeRules {
            limited_from: 13,
            ..AgeRules::default()
        };
        assert_eq!(later.stage(born, date!(2020 - 11 - 27)), Stage::Child);
    }
}
