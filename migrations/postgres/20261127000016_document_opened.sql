-- When the patient's side first opened a document the clinic shared: the
-- portal marks it new until then. Documents already shared count as
-- opened, so nobody meets a page of old files marked new. The backfill
-- runs with row security lifted for this table only: a migration has no
-- clinic set, and a role that is not a superuser would otherwise see no
-- rows to update. Keep in step with the SQLite file.
ALTER TABLE documents ADD COLUMN opened_at BIGINT;
ALTER TABLE documents NO FORCE ROW LEVEL SECURITY;
UPDATE documents SET opened_at = uploaded_at;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
