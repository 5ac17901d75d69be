//! The day it is at the clinic, with the clinic's age rules: what every
//! view of a record is worked out from. A clinic's settings give it
//! (`TenantSettings::day_at`).

use time::Date;

use super::{Access, AgeRules, Relation, Stage, access_of};
use crate::domain::DateOfBirth;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClinicDay {
    /// The date on the clinic's calendar, in its time zone.
    pub today: Date,
    pub rules: AgeRules,
}

impl ClinicDay {
    pub fn stage_of(&self, born: DateOfBirth) -> Stage {
        self.rules.stage(born.date(), self.today)
    }

    /// What a grant of `relation` gives today on the record of a patient
    /// born on `born`.
    pub fn access(
        &self,
        relation: Relation,
        born: DateOfBirth,
        caregiver_sees_confidential: bool,
    ) -> Access {
        access_of(
            relation,
            self.stage_of(born),
            &self.rules,
            caregiver_sees_confidential,
        )
    }
}
