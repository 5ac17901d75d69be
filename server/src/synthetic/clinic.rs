//! One synthetic clinic's rows, written as the server itself would have
//! written them, so that it reads them back without complaint: keyed code
//! hashes, audit events at their places in the clinic's log, role
//! assignments as casbin rules.

use portico_tenants::codes::{CodeKey, PlainCode};
use portico_tenants::domain::TenantId;
use portico_tenants::ledger::StoredEvent;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::copy_text::CopyRows;
use super::sizes::ClinicSize;

const DAY_MS: i64 = 86_400_000;
/// How far back a synthetic clinic's history goes.
const HISTORY_MS: i64 = 730 * DAY_MS;
/// A Medical Records Access Code's lifetime, as the clinics' default.
const CODE_LIFETIME_MS: i64 = 5 * DAY_MS;

const FIRST_NAMES: &[&str] = &[
    "Ada", "Amir", "Anna", "Ben", "Carla", "Chen", "Dana", "David", "Elena", "Emma", "Farah",
    "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jana", "Jonas", "Kai", "Lara", "Leo",
    "Lina", "Luca", "Maja", "Marco", "Mia", "Nadia", "Noah", "Olga", "Omar", "Paula", "Peter",
    "Rosa", "Sami", "Sara", "Tomas", "Una", "Vera", "Yusuf", "Agnes", "Bruno", "Cecilia", "Dmitri",
    "Esther", "Fatima", "Gustav", "Helga", "Isak", "Jasmin", "Karim", "Leila", "Magnus", "Nora",
    "Oskar", "Priya", "Rafael", "Sofia", "Theo", "Ursula", "Viktor", "Wanda", "Ximena", "Yara",
    "Zofia", "Aaron", "Birgit", "Cyrus", "Delia", "Emil",
];
/// Surnames are a stem and an ending ("Berg" and "mann"): 1,600 of them,
/// so that a fragment picks out few enough patients for a trigram index
/// to matter, as with real names.
const SURNAME_STEMS: &[&str] = &[
    "Abel", "Berg", "Carl", "Dahl", "Eng", "Fern", "Gold", "Hart", "Iver", "Jans", "Kowal", "Lind",
    "Mart", "Nord", "Ols", "Pett", "Quist", "Ros", "Sand", "Thor", "Ulf", "Vall", "Wag", "Xav",
    "Yng", "Zell", "Brat", "Dvor", "Hol", "Kras", "Lev", "Mos", "Nov", "Pav", "Rad", "Stef", "Tom",
    "Vol", "Wit", "Zab",
];
const SURNAME_ENDINGS: &[&str] = &[
    "mann", "sen", "son", "ski", "ova", "er", "ström", "berg", "ich", "ek", "ing", "ander",
    "quist", "ov", "ez", "ini", "ard", "well", "ton", "ley", "ic", "escu", "oglu", "ak", "ner",
    "stad", "holm", "feld", "dal", "wood", "ian", "etti", "os", "is", "ens", "ay", "ik", "ero",
    "sky", "un",
];

/// The tables a load writes, in an order their foreign keys allow, with
/// the columns each COPY names.
pub const TABLES: &[(&str, &str)] = &[
    (
        "tenants",
        "id, slug, display_name, status, policy_version, created_at, updated_at, staff_second_factor_required, audit_log_started",
    ),
    (
        "staff",
        "tenant_id, id, email, email_normalized, display_name, password_hash, status, password_changed_at, created_at, must_change_password",
    ),
    ("casbin_rules", "tenant_id, id, ptype, v0, v1, v2"),
    (
        "patients",
        "tenant_id, id, full_name, name_search, date_of_birth, email, email_normalized, home_zip, portal_access, created_at, updated_at, portal_opened_at",
    ),
    (
        "portal_accounts",
        "tenant_id, id, username, username_normalized, email, email_normalized, email_verified_at, password_hash, created_at",
    ),
    (
        "grants",
        "tenant_id, id, account_id, patient_id, created_at, relation",
    ),
    (
        "access_codes",
        "tenant_id, id, kind, patient_id, code_hash, delivery, issued_by, issued_at, expires_at, redeemed_at, redeemed_by, revoked_at, revoked_by, revoke_reason, relation",
    ),
    (
        "audit_events",
        "tenant_id, id, occurred_at, actor_kind, actor_id, action, target, outcome, reason, ip, user_agent, seq, leaf_hash",
    ),
    ("audit_ledger_size", "tenant_id, size"),
    ("audit_heads_due", "tenant_id, grown"),
];

/// Rows for every table in [`TABLES`], in the same order.
pub struct Batch {
    pub tables: Vec<CopyRows>,
}

impl Batch {
    pub fn new() -> Self {
        Self {
            tables: TABLES.iter().map(|_| CopyRows::new()).collect(),
        }
    }

    fn table(&mut self, name: &str) -> &mut CopyRows {
        let i = TABLES
            .iter()
            .position(|(t, _)| *t == name)
            .expect("a table the load writes");
        &mut self.tables[i]
    }
}

/// The slug of synthetic clinic `index`: sorted as numbered, so a resumed
/// load can tell how far the last one got.
pub fn slug(index: u32) -> String {
    format!("{}{index:05}", super::SLUG_PREFIX)
}

/// Who a clinic's staff sign in as: `owner@synthetic-00000.example` and so
/// on, all with the load's one password.
pub const STAFF: &[(&str, &str)] = &[
    ("owner", "owner"),
    ("front_desk", "frontdesk"),
    ("practitioner", "doctor"),
];

/// What each clinic shares with every other in a load.
pub struct Shared<'a> {
    pub code_key: &'a CodeKey,
    /// One Argon2id hash of the load's password, for every staff member
    /// and account: hashing a million passwords would be the whole load.
    pub password_hash: &'a str,
    pub now_ms: i64,
}

/// Writes clinic `index`'s rows into `batch`. Its content follows from
/// `index` alone (its ids and code hashes do not).
pub fn write(batch: &mut Batch, shared: &Shared, index: u32, size: ClinicSize) {
    let mut rng = StdRng::seed_from_u64(u64::from(index));
    let tenant = TenantId::generate();
    let tenant_key = tenant.to_string();
    let slug = slug(index);
    let created = shared.now_ms - HISTORY_MS + i64::from(index);
    let span = (shared.now_ms - 60_000 - created).max(1);

    batch
        .table("tenants")
        .text(&tenant_key)
        .text(&slug)
        .text(&format!("Synthetic Clinic {index:05}"))
        .text("active")
        .number(0)
        .number(created)
        .number(created)
        .number(0)
        .number(1)
        .end_row();

    let mut staff_ids = Vec::new();
    for (role, local) in STAFF {
        let id = Uuid::now_v7().to_string();
        let email = format!("{local}@{slug}.example");
        batch
            .table("staff")
            .text(&tenant_key)
            .text(&id)
            .text(&email)
            .text(&email)
            .text(&format!("Synthetic {role}"))
            .text(shared.password_hash)
            .text("active")
            .number(created)
            .number(created)
            .number(0)
            .end_row();
        batch
            .table("casbin_rules")
            .text(&tenant_key)
            .text(&Uuid::now_v7().to_string())
            .text("g")
            .text(&format!("staff:{id}"))
            .text(&format!("role:{role}"))
            .text(&tenant_key)
            .end_row();
        staff_ids.push(id);
    }

    // Patients; every third has a portal account holding their own
    // record, and every thirtieth's account holds the next patient's too
    // (a family).
    let patients = size.patients as usize;
    let mut patient_ids = Vec::with_capacity(patients);
    let mut account_of: Vec<Option<String>> = Vec::with_capacity(patients);
    for j in 0..patients {
        let id = Uuid::now_v7().to_string();
        let name = format!(
            "{} {}{}",
            FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
            SURNAME_STEMS[rng.random_range(0..SURNAME_STEMS.len())],
            SURNAME_ENDINGS[rng.random_range(0..SURNAME_ENDINGS.len())]
        );
        let dob = format!(
            "{}-{:02}-{:02}",
            rng.random_range(1940..2006),
            rng.random_range(1..=12),
            rng.random_range(1..=28)
        );
        let email = format!("patient{j}@{slug}.example");
        let at = created + span * j as i64 / patients.max(1) as i64 / 2;
        let has_account = j % 3 == 0;
        batch
            .table("patients")
            .text(&tenant_key)
            .text(&id)
            .text(&name)
            .text(&name.to_lowercase())
            .text(&dob)
            .text(&email)
            .text(&email)
            .text(&format!("{:05}", rng.random_range(10_000..99_999)))
            .text(if has_account { "enabled" } else { "disabled" })
            .number(at)
            .number(at)
            .maybe_number(has_account.then_some(at))
            .end_row();
        if has_account {
            let account = Uuid::now_v7().to_string();
            let username = format!("patient{j}");
            batch
                .table("portal_accounts")
                .text(&tenant_key)
                .text(&account)
                .text(&username)
                .text(&username)
                .text(&email)
                .text(&email)
                .number(at)
                .text(shared.password_hash)
                .number(at)
                .end_row();
            grant(batch, &tenant_key, &account, &id, at, "self");
            account_of.push(Some(account));
        } else {
            account_of.push(None);
        }
        patient_ids.push(id);
    }
    for j in (0..patients.saturating_sub(1)).step_by(30) {
        if let Some(account) = &account_of[j] {
            grant(
                batch,
                &tenant_key,
                account,
                &patient_ids[j + 1],
                created,
                "caregiver",
            );
        }
    }

    // Codes: most redeemed, some revoked, the rest expired unused or, in
    // the last five days, still pending. Their words are drawn and thrown
    // away, as the server does once a code is handed over.
    let codes = size.codes as usize;
    let holders: Vec<usize> = (0..patients).step_by(3).collect();
    for k in 0..codes {
        let issued_at = created + span * k as i64 / codes.max(1) as i64;
        let fate = k % 10;
        let patient = if fate < 6 && !holders.is_empty() {
            holders[rng.random_range(0..holders.len())]
        } else {
            rng.random_range(0..patients.max(1))
        };
        let redeemed = fate < 6 && account_of[patient].is_some();
        let revoked = fate == 6;
        let hash = shared
            .code_key
            .hash(tenant, &PlainCode::generate().canonical());
        batch
            .table("access_codes")
            .text(&tenant_key)
            .text(&Uuid::now_v7().to_string())
            .text("medical_records")
            .text(&patient_ids[patient])
            .text(&hash)
            .text(if k % 2 == 0 { "email" } else { "print" })
            .text(&format!("staff:{}", staff_ids[1]))
            .number(issued_at)
            .number(issued_at + CODE_LIFETIME_MS)
            .maybe_number(redeemed.then_some(issued_at + 3_600_000))
            .maybe(
                redeemed
                    .then(|| format!("account:{}", account_of[patient].as_ref().unwrap()))
                    .as_deref(),
            )
            .maybe_number(revoked.then_some(issued_at + 600_000))
            .maybe(
                revoked
                    .then(|| format!("staff:{}", staff_ids[0]))
                    .as_deref(),
            )
            .maybe(revoked.then_some("handed to the wrong patient"))
            .text("self")
            .end_row();
    }

    // The audit trail, oldest first, each event at its place in the
    // clinic's log with the leaf hash the server would have given it.
    let events = size.audit_events;
    let mut at = created;
    for seq in 1..=events {
        at = (created + (span as u128 * seq as u128 / events.max(1) as u128) as i64).max(at + 1);
        let event = audit_event(&mut rng, at, &staff_ids, &patient_ids, &account_of);
        let leaf = hex::encode(event.canonical(&tenant_key, seq).leaf_hash());
        batch
            .table("audit_events")
            .text(&tenant_key)
            .text(&event.id)
            .number(event.occurred_at)
            .text(&event.actor_kind)
            .maybe(event.actor_id.as_deref())
            .text(&event.action)
            .maybe(event.target.as_deref())
            .text(&event.outcome)
            .maybe(event.reason.as_deref())
            .maybe(event.ip.as_deref())
            .maybe(event.user_agent.as_deref())
            .number(seq as i64)
            .text(&leaf)
            .end_row();
    }
    batch
        .table("audit_ledger_size")
        .text(&tenant_key)
        .number(events as i64)
        .end_row();
    // No head covers the log yet: the hourly job signs its first.
    batch
        .table("audit_heads_due")
        .text(&tenant_key)
        .number(1)
        .end_row();
}

fn grant(batch: &mut Batch, tenant: &str, account: &str, patient: &str, at: i64, relation: &str) {
    batch
        .table("grants")
        .text(tenant)
        .text(&Uuid::now_v7().to_string())
        .text(account)
        .text(patient)
        .number(at)
        .text(relation)
        .end_row();
}

/// A day's ordinary business: staff reading records and signing in,
/// codes issued and redeemed, patients reading their records.
fn audit_event(
    rng: &mut StdRng,
    at: i64,
    staff: &[String],
    patients: &[String],
    accounts: &[Option<String>],
) -> StoredEvent {
    let id = Uuid::new_v7(uuid::Timestamp::from_unix_time(
        (at / 1000) as u64,
        ((at % 1000) * 1_000_000) as u32,
        0,
        0,
    ))
    .to_string();
    let patient = rng.random_range(0..patients.len().max(1));
    let target = patients.get(patient).map(|p| format!("patient:{p}"));
    let staff_member = &staff[rng.random_range(0..staff.len())];
    let by_staff = |action: &'static str| (("staff", Some(staff_member.clone())), action);
    let ((kind, actor), action) = match rng.random_range(0..10) {
        0..=3 => by_staff("patient.read"),
        4 => by_staff("staff.login"),
        5 => by_staff("code.issue"),
        6 => by_staff("patient.update"),
        _ => match accounts.get(patient).cloned().flatten() {
            Some(account) => (
                ("account", Some(account)),
                if rng.random_bool(0.8) {
                    "record.read"
                } else {
                    "portal.login"
                },
            ),
            None => by_staff("patient.read"),
        },
    };
    let failed = action.ends_with("login") && rng.random_ratio(1, 20);
    StoredEvent {
        id,
        occurred_at: at,
        actor_kind: kind.to_owned(),
        actor_id: actor,
        action: action.to_owned(),
        target: if action.ends_with("login") {
            None
        } else {
            target
        },
        outcome: if failed { "failure" } else { "success" }.to_owned(),
        reason: failed.then(|| "wrong_password".to_owned()),
        ip: Some(format!(
            "10.{}.{}.{}",
            rng.random_range(0..=255),
            rng.random_range(0..=255),
            rng.random_range(1..=254)
        )),
        user_agent: Some("Mozilla/5.0 (synthetic load)".to_owned()),
    }
}
