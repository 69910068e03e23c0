-- Pushers (spec: "Push Notifications", POST /pushers/set): where to send a
-- user's push notifications. A pusher belongs to the device (login session)
-- that last set it and goes with it: logout, logout/all, device deletion
-- and a password change that logs out the other devices remove it.
-- app_id and pushkey identify it for one user; pushkey_ts is when it was
-- last set, in seconds (the push gateway's devices[].pushkey_ts); data is
-- the client's PusherData object, kept as sent.
CREATE TABLE userapi_pushers (
	app_id TEXT NOT NULL,
	pushkey TEXT NOT NULL,
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	pushkey_ts BIGINT NOT NULL,
	app_display_name TEXT NOT NULL,
	device_display_name TEXT NOT NULL,
	profile_tag TEXT NOT NULL,
	lang TEXT NOT NULL,
	data TEXT NOT NULL,
	PRIMARY KEY (app_id, pushkey, localpart)
);
CREATE INDEX userapi_pushers_device ON userapi_pushers (localpart, device_id);
