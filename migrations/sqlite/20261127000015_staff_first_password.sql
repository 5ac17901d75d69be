-- A staff member whose password someone else chose (whoever added them,
-- or an operator's reset) must choose their own at the next login: until
-- then the door lets them do nothing but change it or log out. Existing
-- staff keep the password they have. Keep in step with the other engine's
-- file.
ALTER TABLE staff ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
    CHECK (must_change_password IN (0, 1));
