-- Dehydrated devices (MSC3814): at most one per user, a device without
-- access tokens that receives to-device messages while none of the user's
-- devices is online. The device itself is a row of userapi_devices with its
-- keys and inbox like any other; this row marks it and keeps the
-- device_data the client uploaded (kept as sent, never read by the server)
-- to rehydrate it.
CREATE TABLE userapi_dehydrated_devices (
	localpart TEXT PRIMARY KEY,
	device_id TEXT NOT NULL,
	device_data TEXT NOT NULL
);
