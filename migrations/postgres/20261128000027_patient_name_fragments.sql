-- Patient search finds any part of a name ("kowal", "an s"): a LIKE
-- '%…%' that a B-tree cannot answer, so until now it read every one of the
-- clinic's patients. A trigram index answers it from the fragment's
-- three-letter pieces. The clinic leads it (btree_gin), so one clinic's
-- search reads its own entries only, however many clinics share the table.
--
-- Both extensions ship with PostgreSQL and are trusted: the database's
-- owner may create them. Where patients is already large, an operator can
-- build the index first without blocking writes (CREATE INDEX
-- CONCURRENTLY, same name); this migration then finds it and goes on.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX IF NOT EXISTS patients_by_name_fragment
    ON patients USING gin (tenant_id, name_search gin_trgm_ops);

-- Row-level security lets an index answer a condition ahead of the
-- policy's own check only when the condition's function is leakproof, and
-- PostgreSQL does not mark LIKE's (textlike) so: under the server's role,
-- the planner would never ask the index above, and a search would still
-- read the whole clinic (measured in docs/performance.md). textlike
-- returns true or false and its one error ("LIKE pattern must not end with
-- escape character") is about the pattern, which in Portico is always the
-- searcher's own text, escaped by the server; no one else writes SQL
-- against this database. Marking it takes a superuser, which the
-- migrating role is on a development machine and usually is not in
-- production: there deploy.md has the statement for the operator, and
-- without it search is slower, never wrong.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION pg_catalog.textlike(text, text) LEAKPROOF;
    ELSE
        RAISE NOTICE 'patient search: ask a superuser to run ALTER FUNCTION pg_catalog.textlike(text, text) LEAKPROOF (see docs/deploy.md)';
    END IF;
END
$$;
