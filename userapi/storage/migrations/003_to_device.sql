-- Send-to-device messages (spec: "Send-to-Device messaging"), kept until the
-- recipient device acknowledges them with a later /sync, and the
-- transaction IDs of the sends that stored them.
--
-- pos is one position for every device's inbox. It must never be reused
-- once rows are deleted (a device's sync token carries the last position it
-- received), hence AUTOINCREMENT on SQLite.
-- dialect: sqlite
CREATE TABLE userapi_to_device (
	pos INTEGER PRIMARY KEY AUTOINCREMENT,
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	sender TEXT NOT NULL,
	sender_device TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	content TEXT NOT NULL
);
-- dialect: postgres
CREATE TABLE userapi_to_device (
	pos BIGSERIAL PRIMARY KEY,
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	sender TEXT NOT NULL,
	sender_device TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	content TEXT NOT NULL
);
-- dialect: all
CREATE INDEX userapi_to_device_inbox ON userapi_to_device (localpart, device_id, pos);

-- One row per send a local device made, so that a retried PUT stores
-- nothing new (spec: "Transaction identifiers"). It outlives the messages,
-- which their recipients may have acknowledged already, and goes with the
-- sending device.
CREATE TABLE userapi_to_device_txns (
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (localpart, device_id, txn_id)
);
