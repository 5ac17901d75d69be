-- SmartForms: a clinic's questionnaires, their assignment to patients, and
-- the link from a SmartForm Access Code to the one assignment it unlocks.
-- Keep in step with the PostgreSQL file.

CREATE TABLE forms (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    title       TEXT NOT NULL,
    -- JSON array of {id, label, kind, required}.
    questions   TEXT NOT NULL,
    created_by  TEXT,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE form_assignments (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    form_id         TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    -- The portal account that may fill it in, once known.
    account_id      TEXT,
    status          TEXT NOT NULL CHECK (status IN ('assigned', 'in_progress', 'submitted')),
    -- JSON object of question id to answer.
    answers         TEXT NOT NULL DEFAULT '{}',
    assigned_by     TEXT,
    assigned_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    submitted_at    INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, form_id) REFERENCES forms (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE INDEX form_assignments_by_patient ON form_assignments (tenant_id, patient_id);
CREATE INDEX form_assignments_by_account ON form_assignments (tenant_id, account_id);

ALTER TABLE access_codes ADD COLUMN form_assignment_id TEXT;
