-- Rooms, events, state snapshots, current membership and transaction IDs.
-- dialect: sqlite
CREATE TABLE roomserver_rooms (
	room_nid INTEGER PRIMARY KEY AUTOINCREMENT,
	room_id TEXT NOT NULL UNIQUE,
	room_version TEXT NOT NULL,
	snapshot_nid BIGINT NOT NULL DEFAULT 0,
	extremities TEXT NOT NULL DEFAULT '[]',
	depth BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE roomserver_events (
	event_nid INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id TEXT NOT NULL UNIQUE,
	room_nid BIGINT NOT NULL,
	event_type TEXT NOT NULL,
	state_key TEXT,
	sender TEXT NOT NULL,
	depth BIGINT NOT NULL,
	origin_server_ts BIGINT NOT NULL,
	snapshot_before BIGINT NOT NULL,
	rejected BOOLEAN NOT NULL DEFAULT FALSE,
	outlier BOOLEAN NOT NULL DEFAULT FALSE,
	redacted_by TEXT,
	event_json TEXT NOT NULL
);
CREATE TABLE roomserver_snapshots (
	snapshot_nid INTEGER PRIMARY KEY AUTOINCREMENT,
	room_nid BIGINT NOT NULL,
	parent_nid BIGINT NOT NULL,
	chain_len INTEGER NOT NULL
);
-- dialect: postgres
CREATE TABLE roomserver_rooms (
	room_nid BIGSERIAL PRIMARY KEY,
	room_id TEXT NOT NULL UNIQUE,
	room_version TEXT NOT NULL,
	snapshot_nid BIGINT NOT NULL DEFAULT 0,
	extremities TEXT NOT NULL DEFAULT '[]',
	depth BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE roomserver_events (
	event_nid BIGSERIAL PRIMARY KEY,
	event_id TEXT NOT NULL UNIQUE,
	room_nid BIGINT NOT NULL,
	event_type TEXT NOT NULL,
	state_key TEXT,
	sender TEXT NOT NULL,
	depth BIGINT NOT NULL,
	origin_server_ts BIGINT NOT NULL,
	snapshot_before BIGINT NOT NULL,
	rejected BOOLEAN NOT NULL DEFAULT FALSE,
	outlier BOOLEAN NOT NULL DEFAULT FALSE,
	redacted_by TEXT,
	event_json TEXT NOT NULL
);
CREATE TABLE roomserver_snapshots (
	snapshot_nid BIGSERIAL PRIMARY KEY,
	room_nid BIGINT NOT NULL,
	parent_nid BIGINT NOT NULL,
	chain_len INTEGER NOT NULL
);
-- dialect: all
CREATE INDEX roomserver_events_room ON roomserver_events (room_nid, event_nid);
-- A snapshot holds the entries that changed since its parent; a snapshot
-- whose chain_len is 0 holds the whole state. Message events share the
-- snapshot of the state before them, so state is never copied per event.
CREATE TABLE roomserver_snapshot_entries (
	snapshot_nid BIGINT NOT NULL,
	event_type TEXT NOT NULL,
	state_key TEXT NOT NULL,
	event_nid BIGINT NOT NULL,
	PRIMARY KEY (snapshot_nid, event_type, state_key)
);
-- Current membership of every user in every room, from the room's state.
CREATE TABLE roomserver_memberships (
	room_nid BIGINT NOT NULL,
	user_id TEXT NOT NULL,
	membership TEXT NOT NULL,
	event_nid BIGINT NOT NULL,
	forgotten BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (room_nid, user_id)
);
CREATE INDEX roomserver_memberships_user ON roomserver_memberships (user_id, membership);
-- Client transaction IDs (spec: "Transaction identifiers"), scoped per device.
CREATE TABLE roomserver_txns (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, device_id, txn_id)
);
