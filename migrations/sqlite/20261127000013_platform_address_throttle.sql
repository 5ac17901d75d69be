-- Failed checks of a secret per client address across every clinic, so
-- that one address cannot spend each clinic's budget in turn (10 codes at
-- each of 10,000 clinics). A platform table: it holds no clinic's data,
-- only address keys and counts. Keep in step with the
-- PostgreSQL file.
CREATE TABLE address_throttle (
    bucket              TEXT PRIMARY KEY NOT NULL,
    failures            INTEGER NOT NULL,
    window_started_at   INTEGER NOT NULL,
    locked_until        INTEGER
);
