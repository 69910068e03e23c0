-- Message retention and legal holds (docs/decisions.md, "Message
-- retention"). A purge keeps a message event's row, so the room's DAG
-- (prev_events, auth chains, backfill) stays whole, but replaces its JSON
-- with the redacted form, which holds no content, and sets purged.
-- dialect: all
ALTER TABLE roomserver_events ADD COLUMN purged BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX roomserver_events_room_ts ON roomserver_events (room_nid, origin_server_ts);
-- A room under legal hold: nothing in it is purged while the row exists.
CREATE TABLE roomserver_legal_holds (
	room_id TEXT PRIMARY KEY,
	reason TEXT NOT NULL,
	held_by TEXT NOT NULL,
	since_ts BIGINT NOT NULL
);
-- Purges started by the purge history admin API, for their status.
CREATE TABLE roomserver_purges (
	purge_id TEXT PRIMARY KEY,
	room_id TEXT NOT NULL,
	status TEXT NOT NULL,
	purged BIGINT NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT '',
	created_ts BIGINT NOT NULL,
	updated_ts BIGINT NOT NULL
);
