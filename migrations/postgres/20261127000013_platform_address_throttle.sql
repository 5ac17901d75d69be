-- Failed checks of a secret per client address across every clinic, so
-- that one address cannot spend each clinic's budget in turn (10 codes at
-- each of 10,000 clinics). A platform table: it holds no clinic's data,
-- only address keys and counts. Keep in step with the SQLite file.
CREATE TABLE address_throttle (
    bucket              TEXT PRIMARY KEY NOT NULL,
    failures            BIGINT NOT NULL,
    window_started_at   BIGINT NOT NULL,
    locked_until        BIGINT
);
GRANT SELECT, INSERT, UPDATE, DELETE ON address_throttle TO portico_app;
