-- A clinic's WebAssembly plugins: uploaded versions, the one active version
-- per hook family with the clinic's settings for it, and a record of every
-- call for the clinic's admins. Keep in step with the SQLite file.

CREATE TABLE plugins (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    id                  TEXT NOT NULL,
    name                TEXT NOT NULL,
    -- 1, 2, 3... per name within the clinic.
    version             BIGINT NOT NULL,
    family              TEXT NOT NULL CHECK (family IN ('email-rendering', 'verification')),
    -- The portico:plugins interface version it was built against.
    interface_version   TEXT NOT NULL,
    sha256              TEXT NOT NULL,
    size_bytes          BIGINT NOT NULL,
    wasm                BYTEA NOT NULL,
    uploaded_by         TEXT NOT NULL,
    uploaded_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name, version)
);

CREATE TABLE plugin_activations (
    tenant_id       TEXT NOT NULL,
    family          TEXT NOT NULL CHECK (family IN ('email-rendering', 'verification')),
    plugin_id       TEXT NOT NULL,
    -- JSON array of {name, value}: the clinic's settings for the plugin.
    settings        TEXT NOT NULL DEFAULT '[]',
    activated_by    TEXT NOT NULL,
    activated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, family),
    FOREIGN KEY (tenant_id, plugin_id) REFERENCES plugins (tenant_id, id)
);

CREATE TABLE plugin_calls (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    plugin_id   TEXT NOT NULL,
    hook        TEXT NOT NULL,
    -- ok, or the failure: trap, fuel, timeout, memory, bad_output, bad_input.
    outcome     TEXT NOT NULL,
    detail      TEXT,
    dry_run     BIGINT NOT NULL DEFAULT 0,
    fuel_used   BIGINT NOT NULL,
    elapsed_us  BIGINT NOT NULL,
    -- JSON: the guest's log for this call, bounded by the sandbox.
    log         TEXT NOT NULL DEFAULT '{"lines":[],"dropped":0}',
    at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, plugin_id) REFERENCES plugins (tenant_id, id)
);
CREATE INDEX plugin_calls_by_plugin ON plugin_calls (tenant_id, plugin_id, at);

GRANT SELECT, INSERT, DELETE ON plugins, plugin_calls TO portico_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON plugin_activations TO portico_app;

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['plugins', 'plugin_activations', 'plugin_calls']
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
