-- Room aliases of this server and the rooms published in its directory.
-- The creator of an alias may delete it (spec: DELETE /directory/room).
CREATE TABLE roomserver_room_aliases (
	alias TEXT NOT NULL PRIMARY KEY,
	room_id TEXT NOT NULL,
	creator TEXT NOT NULL,
	created_ts BIGINT NOT NULL
);
CREATE INDEX roomserver_room_aliases_room ON roomserver_room_aliases (room_id);
-- Rooms whose visibility in the published room directory is public.
CREATE TABLE roomserver_published_rooms (
	room_id TEXT NOT NULL PRIMARY KEY,
	published_ts BIGINT NOT NULL
);
