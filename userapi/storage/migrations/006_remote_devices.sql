-- Other servers' users' device lists, cached (spec: server-server API,
-- "Device Management"): the keys of every device and the user's
-- cross-signing keys as the user's server last gave them (one JSON object:
-- devices by ID, master_key, self_signing_key), the stream_id of that
-- state, and whether it is fresh. A cached list is kept up to date by
-- m.device_list_update EDUs; one that missed an update (its prev_id was
-- not the stream_id held) is stale and fetched again before it is used.
CREATE TABLE userapi_remote_device_lists (
	user_id TEXT PRIMARY KEY,
	keys_json TEXT NOT NULL,
	stream_id BIGINT NOT NULL,
	fresh BOOLEAN NOT NULL
);

-- A user's latest device-list position is the stream_id of their device
-- list (GET /user/devices, m.device_list_update).
CREATE INDEX userapi_device_list_changes_user ON userapi_device_list_changes (user_id, pos);
