//! The tenants themselves: the platform-level table every request starts
//! from. Only operators change it.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::coherence::Change;
use crate::domain::InvalidValue;
use crate::domain::{
    ClinicTimeZone, CodeDelivery, CodeLifetime, Colour, DisplayName, EmailAddress, LogoUrl,
    PortalHost, RetentionDays, Slug, TenantId, Timestamp,
};
use crate::family::{AgeRules, ClinicDay, LimitedParts};
use crate::storage::{Database, StorageError, TenantTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    fn parse(raw: &str) -> Result<Self, StorageError> {
        match raw {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            other => Err(StorageError::Corrupt(format!("tenant status {other:?}"))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: Slug,
    pub display_name: DisplayName,
    pub status: TenantStatus,
    pub custom_domain: Option<String>,
    /// The host the clinic asked for, until an operator connects it.
    pub requested_custom_domain: Option<PortalHost>,
    /// Bumped whenever the tenant's role policies change, so every node can
    /// tell that its cached copy is stale.
    pub policy_version: i64,
    pub created_at: Timestamp,
    pub settings: TenantSettings,
}

/// How a clinic runs portal access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSettings {
    /// Enable portal access when a record is created (if the rules allow),
    /// without a further confirmation.
    pub auto_enable_portal_access: bool,
    /// How long a Medical Records Access Code lives; at most five days.
    pub code_lifetime: CodeLifetime,
    pub default_delivery: CodeDelivery,
    /// Appointments are booked, and every time shown, in this zone.
    pub time_zone: ClinicTimeZone,
    /// Whether visitors may register online without a code.
    pub self_registration: bool,
    /// Every staff member must have a second factor; one without is led
    /// to set one up and can do nothing else until then.
    pub staff_second_factor_required: bool,
    /// Every portal account must pass a second step at login.
    pub patient_second_factor_required: bool,
    /// When a parent's view of a child's record narrows, and ends.
    pub age_rules: AgeRules,
    /// A proxy code (a parent's or a caregiver's) is redeemed only with
    /// the patient's date of birth; three wrong dates cancel it.
    pub proxy_code_requires_dob: bool,
    /// How long audit events are kept; `None` keeps them forever.
    pub audit_retention: Option<RetentionDays>,
    pub branding: TenantBranding,
}

/// How the clinic's mail and portal look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantBranding {
    pub primary_colour: Colour,
    pub accent_colour: Colour,
    pub logo_url: Option<LogoUrl>,
    /// Where patients' replies to the clinic's mail go.
    pub reply_to: Option<EmailAddress>,
}

impl TenantBranding {
    /// White text is drawn on the main colour (bars, buttons) and the
    /// main colour on white (links); dark text on the accent (notices).
    /// Colours that would make either hard to read are refused, so every
    /// clinic's portal and mail keep WCAG AA contrast (4.5:1).
    pub fn readable(
        primary_colour: Colour,
        accent_colour: Colour,
        logo_url: Option<LogoUrl>,
        reply_to: Option<EmailAddress>,
    ) -> Result<Self, InvalidValue> {
        const MINIMUM: f64 = 4.5;
        let white = Colour::parse("text", "#ffffff").expect("valid constant");
        let ink = Colour::parse("text", "#1d2433").expect("valid constant");
        let on_primary = primary_colour.contrast_ratio(&white);
        if on_primary < MINIMUM {
            return Err(InvalidValue {
                field: "primary_colour",
                reason: format!(
                    "is too light for the white text drawn on it ({on_primary:.1}:1; at least 4.5:1 is needed): choose a darker colour"
                ),
            });
        }
        let on_accent = accent_colour.contrast_ratio(&ink);
        if on_accent < MINIMUM {
            return Err(InvalidValue {
                field: "accent_colour",
                reason: format!(
                    "is too dark for the dark text drawn on it ({on_accent:.1}:1; at least 4.5:1 is needed): choose a lighter colour"
                ),
            });
        }
        Ok(Self {
            primary_colour,
            accent_colour,
            logo_url,
            reply_to,
        })
    }
}

impl Default for TenantBranding {
    fn default() -> Self {
        Self {
            primary_colour: Colour::parse("primary_colour", "#0b6e4f").expect("valid default"),
            accent_colour: Colour::parse("accent_colour", "#e3f1ec").expect("valid default"),
            logo_url: None,
            reply_to: None,
        }
    }
}

impl TenantSettings {
    /// The clinic's date at `now`, in its time zone, with its age rules.
    pub fn day_at(&self, now: Timestamp) -> ClinicDay {
        ClinicDay {
            today: self.time_zone.local_date(now),
            rules: self.age_rules,
        }
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            auto_enable_portal_access: false,
            code_lifetime: CodeLifetime::MAX,
            default_delivery: CodeDelivery::Email,
            time_zone: ClinicTimeZone::utc(),
            self_registration: true,
            staff_second_factor_required: true,
            patient_second_factor_required: false,
            age_rules: AgeRules::default(),
            proxy_code_requires_dob: false,
            audit_retention: None,
            branding: TenantBranding::default(),
        }
    }
}

macro_rules! columns {
    () => {
        "id, slug, display_name, status, custom_domain, policy_version, created_at, \
         auto_enable_portal_access, code_lifetime_secs, default_code_delivery, \
         brand_primary_colour, brand_accent_colour, logo_url, reply_to, time_zone, \
         requested_custom_domain, self_registration, staff_second_factor_required, \
         patient_second_factor_required, proxy_limited_from_age, adult_age, \
         limited_view_appointments, limited_view_messages, limited_view_documents, \
         proxy_code_requires_dob, audit_retention_days"
    };
}

fn from_row(row: &AnyRow) -> Result<Tenant, StorageError> {
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    Ok(Tenant {
        id: TenantId::parse(row.try_get::<String, _>(0)?.as_str()).map_err(corrupt)?,
        slug: Slug::parse(row.try_get::<String, _>(1)?.as_str()).map_err(corrupt)?,
        display_name: DisplayName::parse("display_name", row.try_get::<String, _>(2)?.as_str())
            .map_err(corrupt)?,
        status: TenantStatus::parse(row.try_get::<String, _>(3)?.as_str())?,
        custom_domain: row.try_get(4)?,
        requested_custom_domain: row
            .try_get::<Option<String>, _>(15)?
            .map(|h| PortalHost::parse("requested_custom_domain", &h))
            .transpose()
            .map_err(corrupt)?,
        policy_version: row.try_get(5)?,
        created_at: Timestamp::from_unix_millis(row.try_get(6)?),
        settings: TenantSettings {
            auto_enable_portal_access: row.try_get::<i64, _>(7)? == 1,
            code_lifetime: CodeLifetime::from_secs(row.try_get::<i64, _>(8)?.max(0) as u64)
                .map_err(|e| StorageError::Corrupt(e.to_string()))?,
            default_delivery: CodeDelivery::parse(&row.try_get::<String, _>(9)?)
                .map_err(|e| StorageError::Corrupt(e.to_string()))?,
            time_zone: ClinicTimeZone::parse(&row.try_get::<String, _>(14)?).map_err(corrupt)?,
            self_registration: row.try_get::<i64, _>(16)? == 1,
            staff_second_factor_required: row.try_get::<i64, _>(17)? == 1,
            patient_second_factor_required: row.try_get::<i64, _>(18)? == 1,
            age_rules: AgeRules::new(
                row.try_get::<i64, _>(19)?,
                row.try_get::<i64, _>(20)?,
                LimitedParts {
                    appointments: row.try_get::<i64, _>(21)? == 1,
                    messages: row.try_get::<i64, _>(22)? == 1,
                    documents: row.try_get::<i64, _>(23)? == 1,
                },
            )
            .map_err(corrupt)?,
            proxy_code_requires_dob: row.try_get::<i64, _>(24)? == 1,
            audit_retention: row
                .try_get::<Option<i64>, _>(25)?
                .map(RetentionDays::new)
                .transpose()
                .map_err(corrupt)?,
            branding: TenantBranding {
                primary_colour: Colour::parse("primary_colour", &row.try_get::<String, _>(10)?)
                    .map_err(corrupt)?,
                accent_colour: Colour::parse("accent_colour", &row.try_get::<String, _>(11)?)
                    .map_err(corrupt)?,
                logo_url: row
                    .try_get::<Option<String>, _>(12)?
                    .map(|u| LogoUrl::parse(&u))
                    .transpose()
                    .map_err(corrupt)?,
                reply_to: row
                    .try_get::<Option<String>, _>(13)?
                    .map(|e| EmailAddress::parse(&e))
                    .transpose()
                    .map_err(corrupt)?,
            },
        },
    })
}

/// Inserts the tenant that `tx` is bound to.
pub async fn insert(
    tx: &mut TenantTx,
    slug: &Slug,
    display_name: &DisplayName,
    custom_domain: Option<&PortalHost>,
    staff_second_factor_required: bool,
) -> Result<Tenant, StorageError> {
    clinic_changed(tx);
    let now = Timestamp::now().unix_millis();
    let key = tx.tenant_key();
    let row = sqlx::query(concat!("INSERT INTO tenants (id, slug, display_name, status, custom_domain, policy_version, created_at, updated_at, staff_second_factor_required)
         VALUES ($1, $2, $3, 'active', $4, 0, $5, $5, $6) RETURNING ", columns!(), ""))
    .bind(key)
    .bind(slug.as_str().to_owned())
    .bind(display_name.as_str().to_owned())
    .bind(custom_domain.map(|h| h.as_str().to_owned()))
    .bind(now)
    .bind(i64::from(staff_second_factor_required))
    .fetch_one(tx.conn())
    .await?;
    from_row(&row)
}

/// Every node keeps clinics in memory (`TenantDirectory`); each write to
/// one tells them.
fn clinic_changed(tx: &mut TenantTx) {
    tx.changed(Change::Clinic {
        tenant: tx.tenant_id(),
    });
}

pub async fn find_by_slug(db: &Database, slug: &str) -> Result<Option<Tenant>, StorageError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tenants WHERE slug = $1"
    ))
    .bind(slug.to_owned())
    .fetch_optional(db.platform_pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The tenant with `id`, for work that starts from a tenant's id rather
/// than a request (the mail worker, after `outbox::claim_due`).
pub async fn find_by_id(db: &Database, id: TenantId) -> Result<Option<Tenant>, StorageError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tenants WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(db.platform_pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find_by_domain(db: &Database, host: &str) -> Result<Option<Tenant>, StorageError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tenants WHERE custom_domain = $1"
    ))
    .bind(host.to_owned())
    .fetch_optional(db.platform_pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(db: &Database) -> Result<Vec<Tenant>, StorageError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tenants ORDER BY slug"
    ))
    .fetch_all(db.platform_pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// The clinics whose audit log has not been started or found started (see
/// [`mark_audit_log_started`]): one query, where asking each clinic would
/// be a transaction per clinic on every node's start.
pub async fn list_without_audit_log(db: &Database) -> Result<Vec<Tenant>, StorageError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tenants WHERE audit_log_started = 0 ORDER BY slug"
    ))
    .fetch_all(db.platform_pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// The clinics whose audit head may be due: their log grew since their
/// last head, or that head was signed at or before `signed_by` (Unix ms).
/// One query over the table the logs mark as they grow and the signer
/// clears (`ledger::store::note_head`), where asking each clinic's log
/// would be two reads per clinic every hour.
pub async fn list_with_audit_head_due(
    db: &Database,
    signed_by: i64,
) -> Result<Vec<Tenant>, StorageError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tenants WHERE id IN (SELECT tenant_id FROM audit_heads_due
                                     WHERE grown = 1 OR last_signed_at <= $1)
          ORDER BY slug"
    ))
    .bind(signed_by)
    .fetch_all(db.platform_pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Records that the clinic `tx` is bound to has its audit log. Not a
/// change other nodes must hear of: no cached clinic carries it.
pub(crate) async fn mark_audit_log_started(tx: &mut TenantTx) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query("UPDATE tenants SET audit_log_started = 1 WHERE id = $1 AND audit_log_started = 0")
        .bind(key)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Reads the tenant `tx` is bound to.
pub async fn get(tx: &mut TenantTx) -> Result<Tenant, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tenants WHERE id = $1"
    ))
    .bind(key)
    .fetch_one(tx.conn())
    .await?;
    from_row(&row)
}

pub async fn set_status(tx: &mut TenantTx, status: TenantStatus) -> Result<Tenant, StorageError> {
    clinic_changed(tx);
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "UPDATE tenants SET status = $2, updated_at = $3 WHERE id = $1 RETURNING ",
        columns!(),
        ""
    ))
    .bind(key)
    .bind(status.as_str())
    .bind(Timestamp::now().unix_millis())
    .fetch_one(tx.conn())
    .await?;
    from_row(&row)
}

/// Marks the tenant's policies as changed; part of the transaction that
/// changes them.
pub async fn bump_policy_version(tx: &mut TenantTx) -> Result<i64, StorageError> {
    // Nodes learn of new policies from the clinic's row they keep.
    clinic_changed(tx);
    let key = tx.tenant_key();
    let row = sqlx::query(
        "UPDATE tenants SET policy_version = policy_version + 1, updated_at = $2 WHERE id = $1 RETURNING policy_version",
    )
    .bind(key)
    .bind(Timestamp::now().unix_millis())
    .fetch_one(tx.conn())
    .await?;
    Ok(row.try_get(0)?)
}

pub async fn update_settings(
    tx: &mut TenantTx,
    display_name: &DisplayName,
    settings: &TenantSettings,
) -> Result<Tenant, StorageError> {
    clinic_changed(tx);
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "UPDATE tenants SET auto_enable_portal_access = $2, code_lifetime_secs = $3, default_code_delivery = $4, updated_at = $5,
                brand_primary_colour = $6, brand_accent_colour = $7, logo_url = $8, reply_to = $9,
                display_name = $10, time_zone = $11, self_registration = $12,
                staff_second_factor_required = $13, patient_second_factor_required = $14,
                proxy_limited_from_age = $15, adult_age = $16, limited_view_appointments = $17,
                limited_view_messages = $18, limited_view_documents = $19, proxy_code_requires_dob = $20,
                audit_retention_days = $21
          WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(key)
    .bind(i64::from(settings.auto_enable_portal_access))
    .bind(settings.code_lifetime.as_secs() as i64)
    .bind(settings.default_delivery.as_str())
    .bind(Timestamp::now().unix_millis())
    .bind(settings.branding.primary_colour.as_str().to_owned())
    .bind(settings.branding.accent_colour.as_str().to_owned())
    .bind(settings.branding.logo_url.as_ref().map(|u| u.as_str().to_owned()))
    .bind(settings.branding.reply_to.as_ref().map(|e| e.as_str().to_owned()))
    .bind(display_name.as_str().to_owned())
    .bind(settings.time_zone.name().to_owned())
    .bind(i64::from(settings.self_registration))
    .bind(i64::from(settings.staff_second_factor_required))
    .bind(i64::from(settings.patient_second_factor_required))
    .bind(i64::from(settings.age_rules.limited_from()))
    .bind(i64::from(settings.age_rules.adult_at()))
    .bind(i64::from(settings.age_rules.limited_parts().appointments))
    .bind(i64::from(settings.age_rules.limited_parts().messages))
    .bind(i64::from(settings.age_rules.limited_parts().documents))
    .bind(i64::from(settings.proxy_code_requires_dob))
    .bind(settings.audit_retention.map(|r| i64::from(r.days())))
    .fetch_one(tx.conn())
    .await?;
    from_row(&row)
}

/// Which of the tenant's host columns to set.
#[derive(Debug, Clone, Copy)]
pub enum HostColumn {
    /// The host the portal answers on; setting it settles a request for
    /// the same host.
    Connected,
    /// The host the clinic asked for.
    Requested,
}

/// Sets (or with `None` clears) one of the tenant's host columns.
pub async fn set_host(
    tx: &mut TenantTx,
    column: HostColumn,
    host: Option<&PortalHost>,
) -> Result<Tenant, StorageError> {
    let sql = match column {
        HostColumn::Connected => concat!(
            "UPDATE tenants SET custom_domain = $2, updated_at = $3,
                    requested_custom_domain = CASE WHEN requested_custom_domain = $2 THEN NULL
                                                   ELSE requested_custom_domain END
              WHERE id = $1 RETURNING ",
            columns!()
        ),
        HostColumn::Requested => concat!(
            "UPDATE tenants SET requested_custom_domain = $2, updated_at = $3 WHERE id = $1 RETURNING ",
            columns!()
        ),
    };
    clinic_changed(tx);
    let key = tx.tenant_key();
    let row = sqlx::query(sql)
        .bind(key)
        .bind(host.map(|h| h.as_str().to_owned()))
        .bind(Timestamp::now().unix_millis())
        .fetch_one(tx.conn())
        .await?;
    from_row(&row)
}
