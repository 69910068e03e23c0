-- Receipts (spec: client-server API, "Receipts"): one row per room,
-- receipt type, user and thread ('' for an unthreaded receipt). A changed
-- receipt is deleted and inserted again, so receipt_pos, which never
-- reuses a value, is its position in the receipt stream of /sync (the
-- token's rc). event_pos is the stream position of the event it
-- acknowledges (0: an event this server does not have), for unread counts.
-- dialect: all
CREATE TABLE syncapi_receipts (
	receipt_pos BIGINT NOT NULL PRIMARY KEY,
	room_id TEXT NOT NULL,
	receipt_type TEXT NOT NULL,
	user_id TEXT NOT NULL,
	thread_id TEXT NOT NULL DEFAULT '',
	event_id TEXT NOT NULL,
	event_pos BIGINT NOT NULL,
	ts BIGINT NOT NULL
);
-- Streams whose positions are taken in the writing transaction (one row
-- each, by name): the row lock orders concurrent writers, so positions
-- become visible in order on PostgreSQL too (a reader never passes one
-- still uncommitted). Receipts here, presence in 005.
CREATE TABLE syncapi_streams (
	name TEXT PRIMARY KEY,
	pos BIGINT NOT NULL
);
INSERT INTO syncapi_streams (name, pos) VALUES ('receipt', 0);
CREATE UNIQUE INDEX syncapi_receipts_key ON syncapi_receipts (room_id, receipt_type, user_id, thread_id);
CREATE INDEX syncapi_receipts_room ON syncapi_receipts (room_id, receipt_pos);
