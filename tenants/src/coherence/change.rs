//! What one node tells the others it changed, and how that is written on
//! the wire (a PostgreSQL notification's payload).

use crate::domain::{AccountId, StaffId, TenantId};

/// A committed change that may make something a node keeps in memory
/// wrong. Only ids travel: never a token, a code or a patient's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// A staff member's sessions, or what a session carries: a logout, a
    /// step-up, a password, their status, their second factors.
    Staff { tenant: TenantId, staff: StaffId },
    /// A portal account's sessions: a logout, a password change, the
    /// record in view.
    Account {
        tenant: TenantId,
        account: AccountId,
    },
    /// The clinic itself: its status, host, settings and role policies.
    Clinic { tenant: TenantId },
    /// Which plugin versions the clinic runs, and with what settings.
    Plugins { tenant: TenantId },
    /// Something this node cannot name (a newer node's kind of change, in
    /// a rolling release): it forgets everything.
    Unknown,
}

/// What a cached entry was read from. An entry is stale when a change to
/// one of its subjects was applied after it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Staff(TenantId, StaffId),
    Account(TenantId, AccountId),
    Clinic(TenantId),
    Plugins(TenantId),
    /// Which clinic answers at which name: a lookup that found no clinic
    /// depends on every clinic's slug and host.
    Directory,
}

impl Change {
    /// What applying this change makes stale.
    pub(crate) fn stales(self) -> Stales {
        match self {
            Self::Staff { tenant, staff } => {
                Stales::Subjects([Some(Subject::Staff(tenant, staff)), None])
            }
            Self::Account { tenant, account } => {
                Stales::Subjects([Some(Subject::Account(tenant, account)), None])
            }
            Self::Clinic { tenant } => {
                Stales::Subjects([Some(Subject::Clinic(tenant)), Some(Subject::Directory)])
            }
            Self::Plugins { tenant } => Stales::Subjects([Some(Subject::Plugins(tenant)), None]),
            Self::Unknown => Stales::Everything,
        }
    }

    /// One line of a notification's payload.
    pub(crate) fn encode(self) -> String {
        match self {
            Self::Staff { tenant, staff } => format!("staff {tenant} {staff}"),
            Self::Account { tenant, account } => format!("account {tenant} {account}"),
            Self::Clinic { tenant } => format!("clinic {tenant}"),
            Self::Plugins { tenant } => format!("plugins {tenant}"),
            Self::Unknown => "unknown".to_owned(),
        }
    }

    /// Reads a line written by [`Change::encode`]; anything else is
    /// `Unknown`, never an error: a node must not keep a cache it cannot
    /// prove fresh.
    pub(crate) fn decode(line: &str) -> Self {
        let mut words = line.split(' ');
        let kind = words.next().unwrap_or_default();
        let tenant = words.next().and_then(|w| TenantId::parse(w).ok());
        let third = words.next();
        if words.next().is_some() {
            return Self::Unknown;
        }
        match (kind, tenant, third) {
            ("staff", Some(tenant), Some(id)) => StaffId::parse(id)
                .map(|staff| Self::Staff { tenant, staff })
                .unwrap_or(Self::Unknown),
            ("account", Some(tenant), Some(id)) => AccountId::parse(id)
                .map(|account| Self::Account { tenant, account })
                .unwrap_or(Self::Unknown),
            ("clinic", Some(tenant), None) => Self::Clinic { tenant },
            ("plugins", Some(tenant), None) => Self::Plugins { tenant },
            _ => Self::Unknown,
        }
    }
}

/// What applying a change makes stale.
pub(crate) enum Stales {
    Subjects([Option<Subject>; 2]),
    Everything,
}

/// A notification's payload: the sending node, then one change per line.
/// PostgreSQL caps a payload at 8,000 bytes; [`encode_batches`] splits.
pub(crate) struct Message {
    pub node: String,
    pub changes: Vec<Change>,
}

/// The payloads that carry `changes` from `node`, each well under the cap.
pub(crate) fn encode_batches(node: &str, changes: &[Change]) -> Vec<String> {
    // A line is at most ~90 bytes; 60 lines stay far below 8,000.
    changes
        .chunks(60)
        .map(|batch| {
            let mut payload = node.to_owned();
            for change in batch {
                payload.push('\n');
                payload.push_str(&change.encode());
            }
            payload
        })
        .collect()
}

pub(crate) fn decode_message(payload: &str) -> Message {
    let mut lines = payload.lines();
    let node = lines.next().unwrap_or_default().to_owned();
    Message {
        node,
        changes: lines.map(Change::decode).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_reads_back_as_itself() {
        let tenant = TenantId::generate();
        let changes = [
            Change::Staff {
                tenant,
                staff: StaffId::generate(),
            },
            Change::Account {
                tenant,
                account: AccountId::generate(),
            },
            Change::Clinic { tenant },
            Change::Plugins { tenant },
        ];
        for change in changes {
            assert_eq!(Change::decode(&change.encode()), change);
        }
        let payloads = encode_batches("node-a", &changes);
        assert_eq!(payloads.len(), 1);
        let message = decode_message(&payloads[0]);
        assert_eq!(message.node, "node-a");
        assert_eq!(message.changes, changes);
    }

    #[test]
    fn what_cannot_be_read_is_unknown_and_forgets_everything() {
        let tenant = TenantId::generate();
        for line in [
            "",
            "staff",
            "colour blue",
            &format!("staff {tenant}"),
            &format!("clinic {tenant} extra"),
            "plugins not-an-id",
            &format!("staff {tenant} not-an-id"),
        ] {
            let change = Change::decode(line);
            assert_eq!(change, Change::Unknown, "{line:?}");
            assert!(matches!(change.stales(), Stales::Everything));
        }
    }

    #[test]
    fn long_lists_are_split_below_the_payload_cap() {
        let tenant = TenantId::generate();
        let changes: Vec<_> = (0..500)
            .map(|_| Change::Staff {
                tenant,
                staff: StaffId::generate(),
            })
            .collect();
        let payloads = encode_batches("a-node-id-of-some-length", &changes);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < 8_000));
        let back: Vec<_> = payloads
            .iter()
            .flat_map(|p| decode_message(p).changes)
            .collect();
        assert_eq!(back, changes);
    }
}
