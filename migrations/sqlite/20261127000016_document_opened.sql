-- When the patient's side first opened a document the clinic shared: the
-- portal marks it new until then. Documents already shared count as
-- opened, so nobody meets a page of old files marked new. Keep in step
-- with the other engine's file.
ALTER TABLE documents ADD COLUMN opened_at INTEGER;
UPDATE documents SET opened_at = uploaded_at;
