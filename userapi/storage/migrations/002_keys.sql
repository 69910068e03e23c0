-- End-to-end encryption keys (spec: "Key Distribution"). The server never
-- sees plaintext: it keeps each key as the client sent it and hands it back
-- unchanged, signatures and all.

-- One set of identity keys per device: the DeviceKeys object of
-- POST /keys/upload.
CREATE TABLE userapi_device_keys (
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	key_json TEXT NOT NULL,
	PRIMARY KEY (localpart, device_id)
);

-- One-time keys, claimed (and deleted) oldest first: upload_seq is the
-- device's upload call that brought the key; keys of one call are
-- equivalent (spec: "POST /keys/claim").
CREATE TABLE userapi_one_time_keys (
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	key_id TEXT NOT NULL,
	key_json TEXT NOT NULL,
	upload_seq BIGINT NOT NULL,
	PRIMARY KEY (localpart, device_id, algorithm, key_id)
);
CREATE INDEX userapi_one_time_keys_claim ON userapi_one_time_keys (localpart, device_id, algorithm, upload_seq);

-- At most one fallback key per device and algorithm; handed out when the
-- one-time keys run out, marked used but kept until replaced.
CREATE TABLE userapi_fallback_keys (
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	key_id TEXT NOT NULL,
	key_json TEXT NOT NULL,
	used BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (localpart, device_id, algorithm)
);

-- The device-list stream: a row each time a user's devices or device keys
-- change, at a position that increases globally. Positions come from the
-- one-row counter below, whose row lock (held to commit) makes writers
-- commit in position order, so a reader that has seen position P has seen
-- every position before it.
CREATE TABLE userapi_device_list_changes (
	pos BIGINT PRIMARY KEY,
	user_id TEXT NOT NULL
);
CREATE TABLE userapi_device_list_counter (
	id INTEGER PRIMARY KEY,
	pos BIGINT NOT NULL
);
INSERT INTO userapi_device_list_counter (id, pos) VALUES (0, 0);
