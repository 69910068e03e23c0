-- Accounts, devices, tokens, profiles and account data.
CREATE TABLE userapi_accounts (
	localpart TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL DEFAULT '',
	created_ts BIGINT NOT NULL,
	is_admin BOOLEAN NOT NULL DEFAULT FALSE,
	deactivated BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE userapi_devices (
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	display_name TEXT,
	created_ts BIGINT NOT NULL,
	last_seen_ts BIGINT NOT NULL,
	last_seen_ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (localpart, device_id)
);

-- Tokens are stored only as the hex SHA-256 of the token.
CREATE TABLE userapi_access_tokens (
	token_hash TEXT PRIMARY KEY,
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	expires_ts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX userapi_access_tokens_device ON userapi_access_tokens (localpart, device_id);

CREATE TABLE userapi_refresh_tokens (
	token_hash TEXT PRIMARY KEY,
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	expires_ts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX userapi_refresh_tokens_device ON userapi_refresh_tokens (localpart, device_id);

-- One row per profile field; value is JSON.
CREATE TABLE userapi_profile_fields (
	localpart TEXT NOT NULL,
	field TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (localpart, field)
);

-- room_id is '' for global account data. stream_pos orders changes for /sync.
CREATE TABLE userapi_account_data (
	localpart TEXT NOT NULL,
	room_id TEXT NOT NULL,
	data_type TEXT NOT NULL,
	content TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (localpart, room_id, data_type)
);
CREATE INDEX userapi_account_data_stream ON userapi_account_data (localpart, stream_pos);

-- Registration tokens (spec: m.login.registration_token). uses_allowed NULL
-- means unlimited, expiry_ts NULL never expires.
CREATE TABLE userapi_registration_tokens (
	token TEXT PRIMARY KEY,
	uses_allowed BIGINT,
	completed BIGINT NOT NULL DEFAULT 0,
	expiry_ts BIGINT,
	created_ts BIGINT NOT NULL
);
