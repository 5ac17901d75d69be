-- A clinic's branding for its mail and portal. Keep in step with the
-- PostgreSQL file.
ALTER TABLE tenants ADD COLUMN brand_primary_colour TEXT NOT NULL DEFAULT '#0b6e4f';
ALTER TABLE tenants ADD COLUMN brand_accent_colour TEXT NOT NULL DEFAULT '#e3f1ec';
ALTER TABLE tenants ADD COLUMN logo_url TEXT;
ALTER TABLE tenants ADD COLUMN reply_to TEXT;
