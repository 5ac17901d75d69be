-- A clinic's time zone, in which appointments are booked and every time is
-- shown; and the portal host a clinic has asked for, which the platform's
-- operators connect once the clinic's DNS points at Portico. Keep in step
-- with the SQLite file.
ALTER TABLE tenants ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE tenants ADD COLUMN requested_custom_domain TEXT;
