-- Rooms an admin blocked (Synapse's block room and delete room APIs): no
-- local user may join or be invited to them. A room may be blocked before
-- this server knows it, and the block outlives a purge of the room.
-- dialect: all
CREATE TABLE roomserver_blocked_rooms (
	room_id TEXT NOT NULL PRIMARY KEY,
	user_id TEXT NOT NULL,
	blocked_ts BIGINT NOT NULL
);
-- Deletes of rooms an admin asked for (DELETE /_synapse/admin/v1|v2/rooms):
-- recorded before they start, so a delete a crash interrupted is run again
-- at start-up (every step of it may run twice). request is the
-- api.RoomDeleteRequest as JSON, result the api.ShutdownResult so far.
-- The rows are kept after a purge: they say who deleted the room and when.
CREATE TABLE roomserver_room_deletes (
	delete_id TEXT NOT NULL PRIMARY KEY,
	room_id TEXT NOT NULL,
	request TEXT NOT NULL,
	status TEXT NOT NULL,
	error TEXT NOT NULL DEFAULT '',
	result TEXT NOT NULL DEFAULT '{}',
	created_ts BIGINT NOT NULL,
	updated_ts BIGINT NOT NULL
);
CREATE INDEX roomserver_room_deletes_room ON roomserver_room_deletes (room_id, created_ts);
CREATE INDEX roomserver_room_deletes_status ON roomserver_room_deletes (status);
