-- What a clinic and a patient share on a record: documents (either side
-- may upload), notes written for the patient, appointments, and secure
-- messages. A document's bytes live in a table of their own so listing
-- documents never reads file contents. Keep in step with the SQLite file.

CREATE TABLE messages (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    -- 'staff' (the clinic wrote it) or 'account' (the patient did).
    sender_kind  TEXT NOT NULL CHECK (sender_kind IN ('staff', 'account')),
    sender_id    TEXT NOT NULL,
    sender_name  TEXT NOT NULL,
    body         TEXT NOT NULL,
    sent_at      BIGINT NOT NULL,
    -- When the other side first read it.
    read_at      BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE INDEX messages_by_patient ON messages (tenant_id, patient_id, sent_at);

CREATE TABLE documents (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    patient_id        TEXT NOT NULL,
    title             TEXT NOT NULL,
    file_name         TEXT NOT NULL,
    media_type        TEXT NOT NULL CHECK (media_type IN ('application/pdf', 'image/png', 'image/jpeg', 'text/plain')),
    size_bytes        BIGINT NOT NULL,
    sha256            TEXT NOT NULL,
    uploaded_by_kind  TEXT NOT NULL CHECK (uploaded_by_kind IN ('staff', 'account')),
    uploaded_by_id    TEXT NOT NULL,
    uploaded_by_name  TEXT NOT NULL,
    uploaded_at       BIGINT NOT NULL,
    -- Set when the document came attached to a secure message.
    message_id        TEXT,
    -- A document given to the wrong record is withdrawn: the patient no
    -- longer sees it, the clinic keeps it.
    withdrawn_at      BIGINT,
    withdrawn_by      TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id)
);
CREATE INDEX documents_by_patient ON documents (tenant_id, patient_id, uploaded_at);

CREATE TABLE document_contents (
    tenant_id    TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, document_id),
    FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id)
);

CREATE TABLE notes (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    body         TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    author_name  TEXT NOT NULL,
    written_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE INDEX notes_by_patient ON notes (tenant_id, patient_id, written_at);

CREATE TABLE appointments (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    patient_id        TEXT NOT NULL,
    starts_at         BIGINT NOT NULL,
    duration_minutes  BIGINT NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    with_whom         TEXT NOT NULL,
    location          TEXT NOT NULL,
    reason            TEXT,
    status            TEXT NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
    booked_by         TEXT NOT NULL,
    booked_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE INDEX appointments_by_patient ON appointments (tenant_id, patient_id, starts_at);

-- Nothing shared on a record is deleted by the application, and notes and
-- file contents never change. Documents may be withdrawn, appointments
-- change status and messages gain a read time.
GRANT SELECT, INSERT ON document_contents, notes TO portico_app;
GRANT SELECT, INSERT, UPDATE ON documents, messages, appointments TO portico_app;

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['messages', 'documents', 'document_contents', 'notes', 'appointments']
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
