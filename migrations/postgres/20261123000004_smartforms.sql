-- SmartForms: a clinic's questionnaires, their assignment to patients, and
-- the link from a SmartForm Access Code to the one assignment it unlocks.
-- Keep in step with the SQLite file.

CREATE TABLE forms (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    title       TEXT NOT NULL,
    questions   TEXT NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE form_assignments (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    form_id         TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    account_id      TEXT,
    status          TEXT NOT NULL CHECK (status IN ('assigned', 'in_progress', 'submitted')),
    answers         TEXT NOT NULL DEFAULT '{}',
    assigned_by     TEXT,
    assigned_at     BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    submitted_at    BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, form_id) REFERENCES forms (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE INDEX form_assignments_by_patient ON form_assignments (tenant_id, patient_id);
CREATE INDEX form_assignments_by_account ON form_assignments (tenant_id, account_id);

ALTER TABLE access_codes ADD COLUMN form_assignment_id TEXT;

GRANT SELECT, INSERT, UPDATE ON forms, form_assignments TO portico_app;

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['forms', 'form_assignments']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I
                USING (tenant_id = current_setting(''portico.tenant_id'', true))
                WITH CHECK (tenant_id = current_setting(''portico.tenant_id'', true))',
            t);
    END LOOP;
END
$$;
