-- The admin API's audit log: one row per admin request that changes
-- something (and per export), written before the action runs so that no
-- action goes unrecorded; status is the HTTP status it answered, 0 while it
-- runs or when the process stopped during it. ts is milliseconds since the
-- epoch; target is the user, room or media the request names ('' if none).
-- dialect: sqlite
CREATE TABLE admin_audit_log (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	ts BIGINT NOT NULL,
	admin_user_id TEXT NOT NULL,
	method TEXT NOT NULL,
	path TEXT NOT NULL,
	target TEXT NOT NULL,
	detail TEXT NOT NULL,
	status INTEGER NOT NULL DEFAULT 0
);
-- dialect: postgres
CREATE TABLE admin_audit_log (
	id BIGSERIAL PRIMARY KEY,
	ts BIGINT NOT NULL,
	admin_user_id TEXT NOT NULL,
	method TEXT NOT NULL,
	path TEXT NOT NULL,
	target TEXT NOT NULL,
	detail TEXT NOT NULL,
	status INTEGER NOT NULL DEFAULT 0
);
-- dialect: all
CREATE INDEX admin_audit_log_admin ON admin_audit_log (admin_user_id);
CREATE INDEX admin_audit_log_target ON admin_audit_log (target);
