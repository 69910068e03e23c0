-- The original JSON of redacted events, kept for the server's admins
-- (room export, docs/decisions.md "Redaction history") for
-- room_server.redaction_retention_period after the redaction, then pruned.
-- roomserver_events.event_json holds the redacted form, as clients see it.
-- redacted_ts is when this server applied the redaction (milliseconds).
-- dialect: all
CREATE TABLE roomserver_redacted_originals (
	event_nid BIGINT NOT NULL PRIMARY KEY,
	room_nid BIGINT NOT NULL,
	redacted_by TEXT NOT NULL,
	redacted_ts BIGINT NOT NULL,
	event_json TEXT NOT NULL
);
CREATE INDEX roomserver_redacted_originals_ts ON roomserver_redacted_originals (redacted_ts);
-- Exports read a room's events in DAG order (depth, then the order stored)
-- page by page.
CREATE INDEX roomserver_events_room_depth ON roomserver_events (room_nid, depth, event_nid);
