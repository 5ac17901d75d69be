//! Reading the audit trail.

use std::collections::{BTreeSet, HashMap};

use crate::acts;
use crate::audit::{AuditFilter, AuditPage, AuditRecord, query};
use crate::domain::{AccountId, PatientId, StaffId};
use crate::door::Caller;
use crate::error::DomainError;
use crate::services::Services;

impl Services {
    /// Reads the tenant's trail, for staff whose role may.
    pub async fn audit_trail(
        &self,
        caller: &Caller,
        filter: &AuditFilter,
        page: &AuditPage,
    ) -> Result<Vec<AuditRecord>, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let records = query(&mut tx, filter, page).await?;
            tx.commit().await?;
            Ok(records)
        }
        .await;
        pass.finish(done).await
    }
}

/// The people an audit page mentions, by name: staff, patients and portal
/// accounts, as they are called now. An id the clinic no longer has (an
/// archived record) stays unnamed.
#[derive(Debug, Default)]
pub struct AuditNames {
    pub staff: HashMap<String, String>,
    pub patients: HashMap<String, String>,
    pub accounts: HashMap<String, String>,
}

impl AuditNames {
    /// The name behind `kind:id`, such as `patient:0193…`.
    pub fn of(&self, kind: &str, id: &str) -> Option<&str> {
        match kind {
            "staff" => self.staff.get(id),
            "patient" => self.patients.get(id),
            "account" => self.accounts.get(id),
            _ => None,
        }
        .map(String::as_str)
    }
}

impl Services {
    /// Names for the staff, patients and accounts `records` mention, read
    /// under the same permission as the trail.
    pub async fn audit_names(
        &self,
        caller: &Caller,
        records: &[AuditRecord],
    ) -> Result<AuditNames, DomainError> {
        // The trail names only whom the reader may see elsewhere: a role
        // that reads the audit but not patients gets kinds, not names.
        let see_staff = self.may(caller, &acts::STAFF_LIST).await?;
        let see_patients = self.may(caller, &acts::PATIENT_READ).await?;
        let pass = self.enter(caller, &acts::AUDIT_READ).await?;
        let done = async {
            let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
            for r in records {
                if let Some(id) = &r.actor_id {
                    wanted.insert((r.actor_kind.clone(), id.clone()));
                }
                for part in r.target.iter().flat_map(|t| t.split_whitespace()) {
                    if let Some((kind, id)) = part.split_once(':') {
                        wanted.insert((kind.to_owned(), id.to_owned()));
                    }
                }
            }
            let mut names = AuditNames::default();
            let mut tx = pass.read().await?;
            for (kind, id) in wanted {
                match kind.as_str() {
                    "staff" if !see_staff => {}
                    "patient" | "account" if !see_patients => {}
                    "staff" => {
                        if let Ok(staff) = StaffId::parse(&id)
                            && let Some((m, _)) = crate::staff::store::get(&mut tx, staff).await?
                        {
                            names.staff.insert(id, m.display_name.to_string());
                        }
                    }
                    "patient" => {
                        if let Ok(patient) = PatientId::parse(&id)
                            && let Some(p) = crate::patients::get_patient(&mut tx, patient).await?
                        {
                            names.patients.insert(id, p.full_name.to_string());
                        }
                    }
                    "account" => {
                        if let Ok(account) = AccountId::parse(&id)
                            && let Some((a, _)) =
                                crate::portal::accounts::get(&mut tx, account).await?
                        {
                            names.accounts.insert(id, a.username.to_string());
                        }
                    }
                    _ => {}
                }
            }
            tx.commit().await?;
            Ok(names)
        }
        .await;
        pass.finish(done).await
    }
}
