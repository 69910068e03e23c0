-- The sync component's view of rooms: every event in stream order, each
-- room's current state, and stored filters.
-- dialect: sqlite
CREATE TABLE syncapi_events (
	stream_pos INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id TEXT NOT NULL UNIQUE,
	room_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	sender TEXT NOT NULL,
	state_key TEXT,
	membership TEXT,
	origin_server_ts BIGINT NOT NULL,
	txn_id TEXT NOT NULL DEFAULT '',
	device_id TEXT NOT NULL DEFAULT '',
	event_json TEXT NOT NULL
);
CREATE TABLE syncapi_filters (
	filter_id INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id TEXT NOT NULL,
	filter_json TEXT NOT NULL
);
-- dialect: postgres
CREATE TABLE syncapi_events (
	stream_pos BIGSERIAL PRIMARY KEY,
	event_id TEXT NOT NULL UNIQUE,
	room_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	sender TEXT NOT NULL,
	state_key TEXT,
	membership TEXT,
	origin_server_ts BIGINT NOT NULL,
	txn_id TEXT NOT NULL DEFAULT '',
	device_id TEXT NOT NULL DEFAULT '',
	event_json TEXT NOT NULL
);
CREATE TABLE syncapi_filters (
	filter_id BIGSERIAL PRIMARY KEY,
	user_id TEXT NOT NULL,
	filter_json TEXT NOT NULL
);
-- dialect: all
CREATE INDEX syncapi_events_room ON syncapi_events (room_id, stream_pos);
CREATE INDEX syncapi_events_ts ON syncapi_events (room_id, origin_server_ts);
CREATE INDEX syncapi_events_member ON syncapi_events (state_key, stream_pos) WHERE event_type = 'm.room.member';
CREATE TABLE syncapi_current_state (
	room_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	state_key TEXT NOT NULL,
	event_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	membership TEXT,
	PRIMARY KEY (room_id, event_type, state_key)
);
CREATE INDEX syncapi_current_state_member ON syncapi_current_state (state_key, membership) WHERE event_type = 'm.room.member';
