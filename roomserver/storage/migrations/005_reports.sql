-- Reports of content users find inappropriate (spec: "Reporting content":
-- POST /rooms/{roomId}/report/{eventId}, /rooms/{roomId}/report,
-- /users/{userId}/report), kept for the server's admins. kind is 'event',
-- 'room' or 'user'; room_id and event_id are '' where the kind has none;
-- target_user_id is the reported user, or the sender of the reported event.
-- score is the event report's score (-100..0) when the client sent one
-- (removed from the spec in v1.18, still sent by older clients; Synapse's
-- event_reports admin API returns it). received_ts is milliseconds since
-- the epoch; an admin marks a report resolved.
-- dialect: sqlite
CREATE TABLE roomserver_reports (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	received_ts BIGINT NOT NULL,
	kind TEXT NOT NULL,
	reporter TEXT NOT NULL,
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	target_user_id TEXT NOT NULL,
	reason TEXT NOT NULL,
	score BIGINT,
	resolved BOOLEAN NOT NULL DEFAULT FALSE
);
-- dialect: postgres
CREATE TABLE roomserver_reports (
	id BIGSERIAL PRIMARY KEY,
	received_ts BIGINT NOT NULL,
	kind TEXT NOT NULL,
	reporter TEXT NOT NULL,
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	target_user_id TEXT NOT NULL,
	reason TEXT NOT NULL,
	score BIGINT,
	resolved BOOLEAN NOT NULL DEFAULT FALSE
);
-- dialect: all
CREATE INDEX roomserver_reports_room ON roomserver_reports (room_id);
CREATE INDEX roomserver_reports_reporter ON roomserver_reports (reporter);
