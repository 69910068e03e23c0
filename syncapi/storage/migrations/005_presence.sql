-- Presence (spec: client-server API, "Presence"): one row per user, local
-- or of another server, holding what their m.presence event says. Each
-- change takes the next position of the presence stream (the "pr" part of
-- a sync token), drawn from syncapi_streams (004) in the writing
-- transaction, so positions become visible in the order they are taken.
-- last_active_ts is absolute (ms); last_active_ago is computed when read.
-- dialect: all
CREATE TABLE syncapi_presence (
	user_id TEXT PRIMARY KEY,
	presence TEXT NOT NULL,
	status_msg TEXT,
	last_active_ts BIGINT NOT NULL,
	currently_active INTEGER NOT NULL DEFAULT 0,
	is_local INTEGER NOT NULL DEFAULT 0,
	stream_pos BIGINT NOT NULL
);
CREATE INDEX syncapi_presence_pos ON syncapi_presence (stream_pos);
INSERT INTO syncapi_streams (name, pos) VALUES ('presence', 0);
