-- What a plugin call answered, and the fuel budget it ran under.
--
-- `answer` tells a rule's refusal (`deny`) from a rule that failed
-- (`outcome` other than ok, `answer` NULL), so the console counts a
-- crashing rule apart from a clinic's real refusals. Its values: allow,
-- deny, ask_for, rendered, declined. NULL for failed calls and for calls
-- recorded before this migration.
--
-- `fuel_limit` is the instruction budget the call had, so the share it
-- used stays true after an operator changes the limits. NULL for calls
-- recorded before this migration.
ALTER TABLE plugin_calls ADD COLUMN answer TEXT;
ALTER TABLE plugin_calls ADD COLUMN fuel_limit BIGINT;
