-- Signing keys of other servers, from their /_matrix/key/v2/server answers
-- (spec: server-server API, "Retrieving server keys"): kept until their
-- valid_until_ts, and for old keys (expired_ts > 0) for good.
-- dialect: all
CREATE TABLE federation_server_keys (
	server_name TEXT NOT NULL,
	key_id TEXT NOT NULL,
	public_key TEXT NOT NULL,
	valid_until_ts BIGINT NOT NULL,
	expired_ts BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (server_name, key_id)
);
-- The newest signed key answer of each server, served again by this
-- server as a notary (POST /_matrix/key/v2/query).
CREATE TABLE federation_key_responses (
	server_name TEXT NOT NULL PRIMARY KEY,
	response TEXT NOT NULL,
	valid_until_ts BIGINT NOT NULL
);
-- This server's signing keys, current and old (expired_ts > 0), so that
-- old keys stay published in old_verify_keys after a key change.
CREATE TABLE federation_own_keys (
	key_id TEXT NOT NULL PRIMARY KEY,
	public_key TEXT NOT NULL,
	expired_ts BIGINT NOT NULL DEFAULT 0
);
