-- The message bus (package internal/bus).
--
-- bus_outbox: messages published and not yet handed to the transport. Publish
-- inserts here, inside the caller's transaction when there is one; the relay
-- moves rows to bus_log (Durable) or sends them to RabbitMQ and deletes them.
-- seq gives the relay's order.
--
-- bus_log: Durable's retained messages. pos is assigned by the relay, under
-- the lock of the bus_counters row 'log', so positions become visible in
-- increasing order and a consumer that read up to pos never misses a smaller
-- one later.
--
-- bus_offsets: per (topic, group, partition), the position of the last
-- acknowledged message. A row per partition is created when a group first
-- subscribes; the janitor keeps what any known group has not passed.
--
-- bus_leases: who runs the RabbitMQ relay, when several processes share the
-- database.

-- dialect: sqlite
CREATE TABLE bus_outbox (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	msg_id TEXT NOT NULL,
	topic TEXT NOT NULL,
	msg_key TEXT NOT NULL,
	part INTEGER NOT NULL,
	body BLOB NOT NULL,
	headers TEXT,
	published_ts BIGINT NOT NULL
);
CREATE TABLE bus_log (
	pos INTEGER PRIMARY KEY,
	msg_id TEXT NOT NULL,
	topic TEXT NOT NULL,
	msg_key TEXT NOT NULL,
	part INTEGER NOT NULL,
	body BLOB NOT NULL,
	headers TEXT,
	published_ts BIGINT NOT NULL
);

-- dialect: postgres
CREATE TABLE bus_outbox (
	seq BIGSERIAL PRIMARY KEY,
	msg_id TEXT NOT NULL,
	topic TEXT NOT NULL,
	msg_key TEXT NOT NULL,
	part INTEGER NOT NULL,
	body BYTEA NOT NULL,
	headers TEXT,
	published_ts BIGINT NOT NULL
);
CREATE TABLE bus_log (
	pos BIGINT PRIMARY KEY,
	msg_id TEXT NOT NULL,
	topic TEXT NOT NULL,
	msg_key TEXT NOT NULL,
	part INTEGER NOT NULL,
	body BYTEA NOT NULL,
	headers TEXT,
	published_ts BIGINT NOT NULL
);

-- dialect: all
CREATE INDEX bus_log_topic_part_pos ON bus_log (topic, part, pos);
CREATE INDEX bus_log_published ON bus_log (published_ts);
CREATE TABLE bus_offsets (
	topic TEXT NOT NULL,
	group_name TEXT NOT NULL,
	part INTEGER NOT NULL,
	last_pos BIGINT NOT NULL,
	PRIMARY KEY (topic, group_name, part)
);
CREATE TABLE bus_counters (
	name TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO bus_counters (name, value) VALUES ('log', 0);
CREATE TABLE bus_leases (
	name TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	expires_ts BIGINT NOT NULL
);
