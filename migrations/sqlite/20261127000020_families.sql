-- Families (issue 15): why an account holds a record, what is confidential,
-- the clinic's age rules, and the birthday job's record of what it did.
-- Keep in step with the PostgreSQL file.

-- A grant stands for a relation: the patient's own account, a parent's
-- proxy for a minor, or a caregiver's proxy for an adult. Grants made
-- before families existed were all the patient's own.
ALTER TABLE grants ADD COLUMN relation TEXT NOT NULL DEFAULT 'self'
    CHECK (relation IN ('self', 'parent', 'caregiver'));
-- Whether the patient lets this caregiver see confidential items.
ALTER TABLE grants ADD COLUMN sees_confidential INTEGER NOT NULL DEFAULT 0
    CHECK (sees_confidential IN (0, 1));
-- Why a grant ended, beside when (revoked_at) and by whom (revoked_by).
ALTER TABLE grants ADD COLUMN ended_reason TEXT
    CHECK (ended_reason IN ('revoked', 'aged_out', 'ended_by_patient'));
UPDATE grants SET ended_reason = 'revoked' WHERE revoked_at IS NOT NULL;

-- The relation a code's redemption grants, and the wrong dates of birth
-- given with a proxy code (three cancel it).
ALTER TABLE access_codes ADD COLUMN relation TEXT NOT NULL DEFAULT 'self'
    CHECK (relation IN ('self', 'parent', 'caregiver'));
ALTER TABLE access_codes ADD COLUMN dob_misses INTEGER NOT NULL DEFAULT 0;
-- A caregiver's code carries the patient's choice about confidential
-- items, and, when the patient invited the caregiver from the portal,
-- the address the invitation went to (shown to the patient while it
-- waits; `issued_by` is then `account:<id>`).
ALTER TABLE access_codes ADD COLUMN sees_confidential INTEGER NOT NULL DEFAULT 0
    CHECK (sees_confidential IN (0, 1));
ALTER TABLE access_codes ADD COLUMN invited_email TEXT;

-- Items staff marked confidential when sharing them: hidden from a
-- teenager's parents, and from caregivers unless the patient allows.
ALTER TABLE documents ADD COLUMN confidential INTEGER NOT NULL DEFAULT 0
    CHECK (confidential IN (0, 1));
ALTER TABLE notes ADD COLUMN confidential INTEGER NOT NULL DEFAULT 0
    CHECK (confidential IN (0, 1));
ALTER TABLE appointments ADD COLUMN confidential INTEGER NOT NULL DEFAULT 0
    CHECK (confidential IN (0, 1));

-- The clinic's age rules (MyChart's by default) and whether a proxy code
-- must be redeemed with the patient's date of birth.
ALTER TABLE tenants ADD COLUMN proxy_limited_from_age INTEGER NOT NULL DEFAULT 12
    CHECK (proxy_limited_from_age BETWEEN 1 AND 20);
ALTER TABLE tenants ADD COLUMN adult_age INTEGER NOT NULL DEFAULT 18
    CHECK (adult_age BETWEEN 16 AND 21);
ALTER TABLE tenants ADD COLUMN limited_view_appointments INTEGER NOT NULL DEFAULT 1
    CHECK (limited_view_appointments IN (0, 1));
ALTER TABLE tenants ADD COLUMN limited_view_messages INTEGER NOT NULL DEFAULT 1
    CHECK (limited_view_messages IN (0, 1));
ALTER TABLE tenants ADD COLUMN limited_view_documents INTEGER NOT NULL DEFAULT 1
    CHECK (limited_view_documents IN (0, 1));
ALTER TABLE tenants ADD COLUMN proxy_code_requires_dob INTEGER NOT NULL DEFAULT 0
    CHECK (proxy_code_requires_dob IN (0, 1));

-- One row per patient and birthday the job has acted on. The job inserts
-- the row in the same transaction as the grants it ends and the mail it
-- queues: only the node whose insert wins does the work, once, across
-- nodes and restarts.
CREATE TABLE age_transitions (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    patient_id  TEXT NOT NULL,
    transition  TEXT NOT NULL CHECK (transition IN ('limited', 'adult')),
    happened_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, patient_id, transition),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
