-- What a clinic and a patient share on a record: documents (either side
-- may upload), notes written for the patient, appointments, and secure
-- messages. A document's bytes live in a table of their own so listing
-- documents never reads file contents. Keep in step with the PostgreSQL file.

CREATE TABLE messages (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    -- 'staff' (the clinic wrote it) or 'account' (the patient did).
    sender_kind  TEXT NOT NULL CHECK (sender_kind IN ('staff', 'account')),
    sender_id    TEXT NOT NULL,
    sender_name  TEXT NOT NULL,
    body         TEXT NOT NULL,
    sent_at      INTEGER NOT NULL,
    -- When the other side first read it.
    read_at      INTEGER,
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
    size_bytes        INTEGER NOT NULL,
    sha256            TEXT NOT NULL,
    uploaded_by_kind  TEXT NOT NULL CHECK (uploaded_by_kind IN ('staff', 'account')),
    uploaded_by_id    TEXT NOT NULL,
    uploaded_by_name  TEXT NOT NULL,
    uploaded_at       INTEGER NOT NULL,
    -- Set when the document came attached to a secure message.
    message_id        TEXT,
    -- A document given to the wrong record is withdrawn: the patient no
    -- longer sees it, the clinic keeps it.
    withdrawn_at      INTEGER,
    withdrawn_by      TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id)
);
CREATE INDEX documents_by_patient ON documents (tenant_id, patient_id, uploaded_at);

CREATE TABLE document_contents (
    tenant_id    TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    bytes        BLOB NOT NULL,
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
    written_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE INDEX notes_by_patient ON notes (tenant_id, patient_id, written_at);

CREATE TABLE appointments (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    patient_id        TEXT NOT NULL,
    starts_at         INTEGER NOT NULL,
    duration_minutes  INTEGER NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    with_whom         TEXT NOT NULL,
    location          TEXT NOT NULL,
    reason            TEXT,
    status            TEXT NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
    booked_by         TEXT NOT NULL,
    booked_at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE INDEX appointments_by_patient ON appointments (tenant_id, patient_id, starts_at);

-- Nothing shared on a record is deleted, and notes and file contents never
-- change (PostgreSQL enforces the same with grants).
CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents
BEGIN SELECT RAISE(ABORT, 'documents are kept'); END;
CREATE TRIGGER document_contents_no_update BEFORE UPDATE ON document_contents
BEGIN SELECT RAISE(ABORT, 'document contents never change'); END;
CREATE TRIGGER document_contents_no_delete BEFORE DELETE ON document_contents
BEGIN SELECT RAISE(ABORT, 'document contents are kept'); END;
CREATE TRIGGER notes_no_update BEFORE UPDATE ON notes
BEGIN SELECT RAISE(ABORT, 'notes are append-only'); END;
CREATE TRIGGER notes_no_delete BEFORE DELETE ON notes
BEGIN SELECT RAISE(ABORT, 'notes are append-only'); END;
