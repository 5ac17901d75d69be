//! Requests refused before they reached an act: the web layer could not
//! read what was sent (a malformed body, a value that does not parse). They
//! are recorded like every other refusal, with the caller, the client and
//! the reason, so that no attempt leaves the trail without a line.

use crate::DomainError;
use crate::acts;
use crate::door::Caller;
use crate::error::RefusalKind;
use crate::services::Services;

impl Services {
    /// Records that `caller`'s request `what` (method and path) was refused
    /// with `reason` (the answer's code) before any act ran.
    pub async fn record_refused_request(
        &self,
        caller: &Caller,
        what: String,
        reason: &'static str,
    ) -> Result<(), DomainError> {
        let pass = self
            .enter_about(caller, &acts::REQUEST_REFUSED, what)
            .await?;
        let refused = DomainError::refused(RefusalKind::Malformed, reason, "refused at the edge");
        match pass.finish::<()>(Err(refused)).await {
            Err(DomainError::Refused(_)) => Ok(()),
            Err(fault) => Err(fault),
            Ok(()) => Ok(()),
        }
    }
}
