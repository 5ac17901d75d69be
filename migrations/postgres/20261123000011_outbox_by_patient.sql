-- Mail about a patient, found without reading the clinic's whole outbox:
-- the mail status on a patient's page, and the check that a record's
-- holders were not told of news within the last hour. Keep in step with
-- the SQLite file.
CREATE INDEX outbox_by_patient ON outbox (tenant_id, patient_id, kind, created_at);
