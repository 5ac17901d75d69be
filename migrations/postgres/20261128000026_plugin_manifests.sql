-- What each uploaded version declares (interface 4.0.0): the patient facts
-- it reads and the settings it takes, as JSON
-- (`{"declared": true, "reads": [...], "settings": [...]}`). The host
-- read it from the component at upload; the console shows it before
-- activation and activation checks settings against it. Versions are
-- immutable, so a new declaration is a new version, activated anew.
--
-- NULL for versions uploaded before this migration: all of them were
-- built against an interface older than 4.0.0, which declares nothing.
ALTER TABLE plugins ADD COLUMN manifest TEXT;
