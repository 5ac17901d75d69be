//! How many rows each synthetic clinic gets.

use thiserror::Error;

/// The whole load: totals across every clinic, and the size of the first
/// (largest) clinic, which the other clinics' share is what is left of.
///
/// Real platforms are skewed: a few large practices and many small ones.
/// One large clinic is also what shows whether a clinic's own queries hold
/// up when the platform around it grows, so the scale benchmark measures
/// it, and loads it identically into a database of 10 clinics and one of
/// 10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub clinics: u32,
    pub patients: u64,
    pub codes: u64,
    pub audit_events: u64,
    pub largest_clinic_patients: u64,
}

/// One clinic's share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClinicSize {
    pub patients: u64,
    pub codes: u64,
    pub audit_events: u64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SizesError {
    #[error("--clinics must be at least 1")]
    NoClinics,
    #[error("--largest-clinic-patients must be at least 1 and at most --patients")]
    LargestOutOfRange,
    #[error(
        "--patients leaves {left} patients for the other {others} clinics; each needs at least one"
    )]
    TooFewPatients { left: u64, others: u64 },
}

impl Sizes {
    /// The platform: 10,000 clinics, 1,000,000 patients and codes,
    /// 10,000,000 audit events; the largest clinic has 20,000 patients.
    pub const PLATFORM: Sizes = Sizes {
        clinics: 10_000,
        patients: 1_000_000,
        codes: 1_000_000,
        audit_events: 10_000_000,
        largest_clinic_patients: 20_000,
    };

    pub fn check(self) -> Result<Self, SizesError> {
        if self.clinics == 0 {
            return Err(SizesError::NoClinics);
        }
        if self.largest_clinic_patients == 0 || self.largest_clinic_patients > self.patients {
            return Err(SizesError::LargestOutOfRange);
        }
        let others = u64::from(self.clinics - 1);
        let left = self.patients - self.largest_clinic_patients;
        if left < others {
            return Err(SizesError::TooFewPatients { left, others });
        }
        Ok(self)
    }

    /// The same platform, cut down to `clinics` clinics with the same
    /// largest clinic and the same average for the others: the baseline
    /// the scale benchmark compares against.
    pub fn with_clinics(self, clinics: u32) -> Sizes {
        let others_before = u64::from(self.clinics.saturating_sub(1)).max(1);
        let others_after = u64::from(clinics.saturating_sub(1));
        let largest = self.clinic(0);
        let scale = |total: u64, in_largest: u64| {
            in_largest + (total - in_largest) * others_after / others_before
        };
        Sizes {
            clinics,
            patients: scale(self.patients, largest.patients),
            codes: scale(self.codes, largest.codes),
            audit_events: scale(self.audit_events, largest.audit_events),
            largest_clinic_patients: largest.patients,
        }
    }

    /// Clinic `index`'s share. The largest clinic keeps the platform's
    /// ratios of codes and events to patients; the others split the rest
    /// evenly, the remainder going one each to the first of them.
    pub fn clinic(&self, index: u32) -> ClinicSize {
        let largest = ClinicSize {
            patients: self.largest_clinic_patients,
            codes: proportion(self.codes, self.largest_clinic_patients, self.patients),
            audit_events: proportion(
                self.audit_events,
                self.largest_clinic_patients,
                self.patients,
            ),
        };
        if self.clinics == 1 {
            return ClinicSize {
                patients: self.patients,
                codes: self.codes,
                audit_events: self.audit_events,
            };
        }
        if index == 0 {
            return largest;
        }
        let others = u64::from(self.clinics - 1);
        let k = u64::from(index - 1);
        let share = |total: u64, in_largest: u64| {
            let rest = total - in_largest;
            rest / others + u64::from(k < rest % others)
        };
        ClinicSize {
            patients: share(self.patients, largest.patients),
            codes: share(self.codes, largest.codes),
            audit_events: share(self.audit_events, largest.audit_events),
        }
    }

    /// The rows of clinics `0..clinics`, summed: what a load stopped after
    /// that many clinics must have written.
    pub fn first(&self, clinics: u32) -> ClinicSize {
        (0..clinics).fold(
            ClinicSize {
                patients: 0,
                codes: 0,
                audit_events: 0,
            },
            |sum, i| {
                let c = self.clinic(i);
                ClinicSize {
                    patients: sum.patients + c.patients,
                    codes: sum.codes + c.codes,
                    audit_events: sum.audit_events + c.audit_events,
                }
            },
        )
    }
}

fn proportion(total: u64, part: u64, whole: u64) -> u64 {
    (u128::from(total) * u128::from(part) / u128::from(whole.max(1))) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_adds_up_to_its_totals() {
        let s = Sizes::PLATFORM.check().unwrap();
        let sum = s.first(s.clinics);
        assert_eq!(sum.patients, 1_000_000);
        assert_eq!(sum.codes, 1_000_000);
        assert_eq!(sum.audit_events, 10_000_000);
        assert_eq!(s.clinic(0).patients, 20_000);
        assert_eq!(s.clinic(0).audit_events, 200_000);
        assert_eq!(s.clinic(1).patients, 99); // 980,000 / 9,999 = 98 r 98
        assert_eq!(s.clinic(9_999).patients, 98);
    }

    #[test]
    fn a_cut_down_platform_keeps_the_largest_clinic_and_the_average() {
        let small = Sizes::PLATFORM.with_clinics(10).check().unwrap();
        assert_eq!(small.clinic(0), Sizes::PLATFORM.clinic(0));
        assert_eq!(small.clinics, 10);
        assert_eq!(small.patients, 20_000 + 980_000 * 9 / 9_999);
        let sum = small.first(10);
        assert_eq!(sum.patients, small.patients);
        assert_eq!(sum.audit_events, small.audit_events);
    }

    #[test]
    fn impossible_sizes_are_refused() {
        let s = Sizes {
            clinics: 5,
            patients: 10,
            codes: 0,
            audit_events: 0,
            largest_clinic_patients: 8,
        };
        assert_eq!(
            s.check(),
            Err(SizesError::TooFewPatients { left: 2, others: 4 })
        );
        assert_eq!(
            Sizes {
                largest_clinic_patients: 11,
                ..s
            }
            .check(),
            Err(SizesError::LargestOutOfRange)
        );
    }
}
