-- The outgoing federation queues (package federationapi/queue): PDUs
-- (kind 0) and EDUs (kind 1) waiting to be sent to a destination server in
-- a transaction (spec: server-server API, "Transactions"). seq gives the
-- order per destination. txn_id is set on the rows of the batch being sent,
-- so that after a failure or a restart the same batch goes again under the
-- same transaction ID and the remote can recognise a repeat. Rows are
-- deleted once the remote has accepted their transaction.
-- dialect: sqlite
CREATE TABLE federation_queue (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	destination TEXT NOT NULL,
	kind INTEGER NOT NULL,
	body TEXT NOT NULL,
	txn_id TEXT,
	queued_ts BIGINT NOT NULL
);
-- dialect: postgres
CREATE TABLE federation_queue (
	seq BIGSERIAL PRIMARY KEY,
	destination TEXT NOT NULL,
	kind INTEGER NOT NULL,
	body TEXT NOT NULL,
	txn_id TEXT,
	queued_ts BIGINT NOT NULL
);
-- dialect: all
CREATE INDEX federation_queue_destination ON federation_queue (destination, kind, seq);
