//! The audit ledger's acts: starting each clinic's log, signing its tree
//! heads (on a schedule and on demand), proofs and exports for auditors,
//! verification, and retention's pruning.

use std::time::Duration;

use crate::acts;
use crate::audit::{Actor, AuditEvent};
use crate::domain::{InvalidValue, Timestamp};
use crate::door::Caller;
use crate::error::DomainError;
use crate::ledger::merkle::Log;
use crate::ledger::store::{self as ledger_store, Cut, LedgerEntry, StoredEvent};
use crate::ledger::verify::{self, LogData};
use crate::ledger::{
    Frontier, LeafHash, LedgerCheck, LedgerExport, ProofError, SignedHead, Tampering, TreeHead,
};
use crate::registry::{self, TenantStatus};
use crate::services::Services;
use crate::storage::TenantTx;

/// A page of the log: events with their places.
#[derive(Debug, Clone)]
pub struct LedgerPage {
    /// The log's size now.
    pub size: u64,
    /// Events pruned by retention: the log starts after them.
    pub pruned: u64,
    pub entries: Vec<(LedgerEntry, StoredEvent)>,
}

/// Proof that event `seq` is in the log a signed head commits to.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    pub seq: u64,
    pub leaf_hash: LeafHash,
    pub head: SignedHead,
    pub path: Vec<LeafHash>,
}

/// Proof that the log of one signed head is a prefix of another's.
#[derive(Debug, Clone)]
pub struct ConsistencyProof {
    pub first: SignedHead,
    pub second: SignedHead,
    pub path: Vec<LeafHash>,
}

/// What the hourly audit-head job did in one run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledHeads {
    /// Clinics the list of heads due named (active ones only).
    pub examined: usize,
    /// Heads signed among them.
    pub signed: usize,
}

/// How old a clinic's newest head may be before one is signed anyway, so
/// that a quiet log still shows it is there.
const HEAD_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// What retention did in one run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub clinics: usize,
    pub events: u64,
    /// Clinics whose run failed (logged; the next run tries again).
    pub failed_clinics: usize,
}

fn corrupt(message: String) -> DomainError {
    DomainError::Storage(crate::storage::StorageError::Corrupt(message))
}

fn no_head() -> DomainError {
    DomainError::NotFound("signed head")
}

fn proof_error(field: &'static str, err: ProofError) -> DomainError {
    DomainError::Invalid(InvalidValue::new(field, err.to_string()))
}

impl Services {
    /// Starts the audit log of every clinic that has none yet (after the
    /// upgrade that brought the ledger): its events so far take places 1,
    /// 2, 3… oldest first. The server does this before it serves, so the
    /// log begins with the clinic's history rather than after it. Only the
    /// clinics not yet known to have a log are asked, in one query: a
    /// clinic's first event starts its log and marks it. Returns the
    /// clinics started.
    pub async fn start_audit_ledgers(&self) -> Result<usize, DomainError> {
        let mut started = 0;
        for tenant in registry::list_without_audit_log(self.door.platform()).await? {
            let caller = Caller::system(tenant);
            let pass = self.enter(&caller, &acts::AUDIT_LEDGER_START).await?;
            let done = async {
                let mut tx = pass.write().await?;
                let new = ledger_store::start(&mut tx).await?;
                tx.commit().await?;
                Ok(new)
            }
            .await;
            if pass.finish(done).await? {
                started += 1;
            }
        }
        Ok(started)
    }

    /// Signs the clinic's tree head now, at the caller's request.
    pub async fn sign_audit_head(&self, caller: &Caller) -> Result<SignedHead, DomainError> {
        let mut pass = self.enter(caller, &acts::AUDIT_HEAD_SIGN).await?;
        let done = async {
            let mut tx = pass.write().await?;
            ledger_store::hold_appends(&mut tx).await?;
            let head = self.sign_head_in(&mut tx, caller).await?;
            pass.detail(format!("signed head of {} events", head.head.size));
            pass.commit(tx).await?;
            Ok(head)
        }
        .await;
        pass.finish(done).await
    }

    /// The schedule's run: signs the head of every active clinic whose log
    /// grew since its last head, and of one whose last head is older than
    /// a day even if it did not (so a head also proves the log is live).
    /// Only the clinics the platform's list of heads due names are looked
    /// at, found in one query: a clinic's log marks itself there as it
    /// grows, and signing clears the mark.
    pub async fn sign_audit_heads_due(
        &self,
        now: Timestamp,
    ) -> Result<ScheduledHeads, DomainError> {
        let mut run = ScheduledHeads::default();
        let signed_by = now.minus(HEAD_LIFETIME).unix_millis();
        for tenant in registry::list_with_audit_head_due(self.door.platform(), signed_by).await? {
            if tenant.status != TenantStatus::Active {
                continue;
            }
            run.examined += 1;
            let id = tenant.id;
            let caller = Caller::system(tenant);
            match self.sign_head_if_due(&caller, now).await {
                Ok(true) => run.signed += 1,
                Ok(false) => {}
                Err(err) => {
                    tracing::error!(tenant = %id, error = %err, "signing an audit head failed");
                }
            }
        }
        Ok(run)
    }

    /// Signs the clinic's head if its log grew since the last one or that
    /// one is a day old; otherwise records the head it has, so the job
    /// passes the clinic by until its log grows. Both under the log's lock:
    /// an append cannot come between the look and the record.
    async fn sign_head_if_due(&self, caller: &Caller, now: Timestamp) -> Result<bool, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_HEAD_SIGN_SCHEDULED).await?;
        let done = async {
            let mut tx = pass.write().await?;
            ledger_store::hold_appends(&mut tx).await?;
            let size = ledger_store::size(&mut tx).await?;
            let latest = ledger_store::latest_head(&mut tx).await?;
            let due = match &latest {
                None => size > 0,
                Some(head) => {
                    head.head.size != size
                        || head.head.signed_at <= now.minus(HEAD_LIFETIME).unix_millis()
                }
            };
            if due {
                self.sign_head_in(&mut tx, caller).await?;
            } else if size > 0 || latest.is_some() {
                // A log that has not started keeps its mark: it has no size
                // row to hold, so an append starting it now would not wait
                // for this transaction, and clearing could lose that
                // append's mark. Every node's start starts such logs.
                ledger_store::note_head(&mut tx, latest.map(|h| h.head.signed_at)).await?;
            }
            tx.commit().await?;
            Ok(due)
        }
        .await;
        pass.finish(done).await
    }

    /// Signs the log as it stands in `tx` and stores the head; `tx` must
    /// hold the clinic's appends ([`ledger_store::hold_appends`]). It starts
    /// from the newest head's stored frontier (once its root is checked
    /// against the head's signed one), so signing reads only the events
    /// since.
    async fn sign_head_in(
        &self,
        tx: &mut TenantTx,
        caller: &Caller,
    ) -> Result<SignedHead, DomainError> {
        let pruned = ledger_store::cut(tx)
            .await?
            .map(|c| c.frontier)
            .unwrap_or_default();
        let start = match ledger_store::latest_head_with_frontier(tx).await? {
            Some((head, frontier))
                if head.head.size >= pruned.size()
                    && frontier.root() == head.head.root
                    && head.signature_holds() =>
            {
                frontier
            }
            Some((head, _)) if head.head.size >= pruned.size() => {
                tracing::error!(
                    tenant = %caller.tenant.id,
                    head = %head.id,
                    "a signed head's stored frontier does not reach its root; signing from the start"
                );
                pruned
            }
            _ => pruned,
        };
        let mut frontier = start;
        for (i, entry) in ledger_store::entries_after(tx, frontier.size())
            .await?
            .iter()
            .enumerate()
        {
            let want = frontier.size() + 1;
            if entry.seq != want {
                return Err(corrupt(format!(
                    "the audit log has no event {want} (found {} at place {i}); run portico audit verify",
                    entry.seq
                )));
            }
            frontier.push(ledger_store::parse_hash(&entry.leaf_hash)?);
        }
        let head = self.audit_key.sign(
            uuid::Uuid::now_v7().to_string(),
            TreeHead {
                tenant_id: caller.tenant.id.to_string(),
                size: frontier.size(),
                root: frontier.root(),
                signed_at: Timestamp::now().unix_millis(),
            },
        );
        ledger_store::insert_head(tx, &head, &frontier).await?;
        ledger_store::note_head(tx, Some(head.head.signed_at)).await?;
        Ok(head)
    }

    /// The clinic's signed heads, newest first.
    pub async fn audit_heads(&self, caller: &Caller) -> Result<Vec<SignedHead>, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_LEDGER_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let mut heads = ledger_store::heads(&mut tx).await?;
            tx.commit().await?;
            heads.reverse();
            Ok(heads)
        }
        .await;
        pass.finish(done).await
    }

    /// One signed head, by id.
    pub async fn audit_head(&self, caller: &Caller, id: &str) -> Result<SignedHead, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_LEDGER_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let head = ledger_store::head(&mut tx, id).await?;
            tx.commit().await?;
            head.ok_or_else(no_head)
        }
        .await;
        pass.finish(done).await
    }

    /// Events `from` onwards with their places, at most `limit`.
    pub async fn audit_ledger_page(
        &self,
        caller: &Caller,
        from: u64,
        limit: u32,
    ) -> Result<LedgerPage, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_LEDGER_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let size = ledger_store::size(&mut tx).await?;
            let pruned = ledger_store::cut(&mut tx)
                .await?
                .map_or(0, |c| c.frontier.size());
            let from = from.max(pruned + 1);
            let to = from.saturating_add(u64::from(limit.max(1)) - 1);
            let entries = ledger_store::entries_with_events(&mut tx, from, to).await?;
            tx.commit().await?;
            Ok(LedgerPage {
                size,
                pruned,
                entries,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Proof that event `seq` is in the log the head `head_id` signed.
    pub async fn audit_inclusion_proof(
        &self,
        caller: &Caller,
        seq: u64,
        head_id: &str,
    ) -> Result<InclusionProof, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_PROOF).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let head = ledger_store::head(&mut tx, head_id)
                .await?
                .ok_or_else(no_head)?;
            let (frontier, leaves) = log_leaves(&mut tx).await?;
            tx.commit().await?;
            if seq == 0 {
                return Err(proof_error(
                    "seq",
                    ProofError::NoSuchLeaf {
                        seq,
                        size: head.head.size,
                    },
                ));
            }
            let log = Log::new(&frontier, &leaves);
            let path = log
                .inclusion_proof(seq - 1, head.head.size)
                .map_err(|e| proof_error("seq", e))?;
            let leaf_hash = leaves[(seq - 1 - frontier.size()) as usize];
            Ok(InclusionProof {
                seq,
                leaf_hash,
                head,
                path,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Proof that the log of head `first` is a prefix of head `second`'s.
    pub async fn audit_consistency_proof(
        &self,
        caller: &Caller,
        first: &str,
        second: &str,
    ) -> Result<ConsistencyProof, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_PROOF).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let first = ledger_store::head(&mut tx, first)
                .await?
                .ok_or_else(no_head)?;
            let second = ledger_store::head(&mut tx, second)
                .await?
                .ok_or_else(no_head)?;
            let (frontier, leaves) = log_leaves(&mut tx).await?;
            tx.commit().await?;
            let path = Log::new(&frontier, &leaves)
                .consistency_proof(first.head.size, second.head.size)
                .map_err(|e| proof_error("first", e))?;
            Ok(ConsistencyProof {
                first,
                second,
                path,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// The log from event `from` (the first kept, by default) up to the
    /// head `head_id` (the newest, by default), with what checks it.
    pub async fn audit_export(
        &self,
        caller: &Caller,
        from: Option<u64>,
        head_id: Option<&str>,
    ) -> Result<LedgerExport, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_EXPORT).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let head = match head_id {
                Some(id) => ledger_store::head(&mut tx, id).await?,
                None => ledger_store::latest_head(&mut tx).await?,
            }
            .ok_or_else(no_head)?;
            let (pruned, leaves) = log_leaves(&mut tx).await?;
            let from = from.unwrap_or(pruned.size() + 1).max(1);
            if from <= pruned.size() {
                return Err(proof_error(
                    "from",
                    ProofError::Pruned { cut: pruned.size() },
                ));
            }
            if from > head.head.size + 1 {
                return Err(proof_error(
                    "from",
                    ProofError::NoSuchLeaf {
                        seq: from,
                        size: head.head.size,
                    },
                ));
            }
            let mut before = pruned.clone();
            let skip = (from - 1 - pruned.size()) as usize;
            let skipped = leaves.get(..skip).ok_or_else(|| {
                corrupt(format!(
                    "the audit log has no event {from}; run portico audit verify"
                ))
            })?;
            for leaf in skipped {
                before.push(*leaf);
            }
            let entries = ledger_store::entries_with_events(&mut tx, from, head.head.size).await?;
            let heads = ledger_store::heads(&mut tx)
                .await?
                .into_iter()
                .filter(|h| h.head.size + 1 >= from && h.head.size <= head.head.size)
                .collect();
            tx.commit().await?;
            Ok(LedgerExport {
                tenant_id: pass.tenant().id.to_string(),
                head,
                before,
                entries,
                heads,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Recomputes the clinic's audit log from its events and checks it:
    /// every place after the pruned prefix holds the event logged there,
    /// every event has a place, the prefix's summary is the signed head at
    /// the cut, and every signed head's root and signature hold. The outer
    /// error is about the caller; the inner result is the verdict.
    pub async fn audit_verify(
        &self,
        caller: &Caller,
    ) -> Result<Result<LedgerCheck, Tampering>, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_VERIFY).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let size = ledger_store::size(&mut tx).await?;
            let cut = ledger_store::cut(&mut tx).await?;
            let (events, entries) = ledger_store::events_and_entries(&mut tx).await?;
            let heads = ledger_store::heads(&mut tx).await?;
            tx.commit().await?;
            let tenant = pass.tenant().id.to_string();
            let before = cut.as_ref().map(|c| c.frontier.clone()).unwrap_or_default();
            let trusted = self.trusted_audit_key_ids();
            Ok(verify::check(LogData {
                tenant_id: &tenant,
                size,
                before: &before,
                cut_head: cut.as_ref().map(|c| c.head_id.as_str()),
                entries: &entries,
                events: &events,
                heads: &heads,
                trusted_keys: &trusted,
            }))
        }
        .await;
        pass.finish(done).await
    }

    /// Retention's run: for each clinic that keeps its events a limited
    /// time, prunes the events older than that up to the newest signed
    /// head they reach, which then summarises them.
    pub async fn prune_audit_trails(&self, now: Timestamp) -> Result<Pruned, DomainError> {
        let mut done = Pruned::default();
        for tenant in registry::list(self.door.platform()).await? {
            let Some(keep) = tenant.settings.audit_retention else {
                continue;
            };
            let id = tenant.id;
            let cutoff = now.minus(Duration::from_secs(u64::from(keep.days()) * 24 * 60 * 60));
            match self
                .prune_audit_trail(&Caller::system(tenant), cutoff)
                .await
            {
                Ok(0) => {}
                Ok(events) => {
                    done.clinics += 1;
                    done.events += events;
                }
                Err(err) => {
                    tracing::error!(tenant = %id, error = %err, "pruning the audit trail failed");
                    done.failed_clinics += 1;
                }
            }
        }
        Ok(done)
    }

    /// Prunes the clinic's events older than `cutoff`, up to the newest
    /// signed head that lies wholly before it. Returns the events removed.
    pub async fn prune_audit_trail(
        &self,
        caller: &Caller,
        cutoff: Timestamp,
    ) -> Result<u64, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_PRUNE).await?;
        let done = async {
            let mut tx = pass.write().await?;
            let old = ledger_store::last_seq_before(&mut tx, cutoff.unix_millis()).await?;
            let cut = ledger_store::cut(&mut tx).await?;
            let (pruned, leaves) = log_leaves(&mut tx).await?;
            let at = ledger_store::heads(&mut tx)
                .await?
                .into_iter()
                .filter(|h| h.head.size > pruned.size() && h.head.size <= old)
                .max_by_key(|h| (h.head.size, h.head.signed_at));
            let Some(head) = at else {
                tx.commit().await?;
                return Ok(0);
            };
            let mut frontier = pruned.clone();
            let covered = leaves
                .get(..(head.head.size - pruned.size()) as usize)
                .ok_or_else(|| {
                    corrupt(format!(
                        "the audit log is shorter than its signed head of {} events; \
                         run portico audit verify",
                        head.head.size
                    ))
                })?;
            for leaf in covered {
                frontier.push(*leaf);
            }
            if frontier.root() != head.head.root || !head.signature_holds() {
                // Never prune what would hide a rewrite: the events are
                // the evidence.
                return Err(corrupt(format!(
                    "the audit log does not match its signed head of {} events; \
                     run portico audit verify",
                    head.head.size
                )));
            }
            let last_occurred_at = ledger_store::occurred_at(&mut tx, head.head.size)
                .await?
                .unwrap_or(cutoff.unix_millis());
            let removed = ledger_store::prune_to(
                &mut tx,
                &Cut {
                    frontier,
                    head_id: head.id.clone(),
                    last_occurred_at,
                    cut_at: Timestamp::now().unix_millis(),
                },
                cut.is_some(),
            )
            .await?;
            let client = crate::audit::ClientInfo::default();
            let event = AuditEvent::success(Actor::System, acts::AUDIT_PRUNE_NAME, &client).reason(
                format!(
                    "events 1 to {} pruned; signed head {} summarises them",
                    head.head.size, head.id
                ),
            );
            crate::audit::record(&mut tx, event).await?;
            tx.commit().await?;
            Ok(removed)
        }
        .await;
        pass.finish(done).await
    }
}

/// The log as it stands: the pruned prefix's frontier and the leaf hashes
/// after it, checked to run without gaps.
async fn log_leaves(tx: &mut TenantTx) -> Result<(Frontier, Vec<LeafHash>), DomainError> {
    let pruned = ledger_store::cut(tx)
        .await?
        .map(|c| c.frontier)
        .unwrap_or_default();
    let entries = ledger_store::entries(tx).await?;
    let mut leaves = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        if entry.seq != pruned.size() + i as u64 + 1 {
            return Err(corrupt(format!(
                "the audit log has no event {}; run portico audit verify",
                pruned.size() + i as u64 + 1
            )));
        }
        leaves.push(ledger_store::parse_hash(&entry.leaf_hash)?);
    }
    Ok((pruned, leaves))
}
