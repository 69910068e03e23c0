-- Notifications: one row per (local user, event) their push rules said
-- "notify" for, written with the event (spec: client-server API, "Push
-- Notifications", "Receiving notifications"). Unread counts are the rows
-- after the user's read point in the room; GET /notifications lists them.
-- thread_id is the event's thread root ('' for the main timeline),
-- actions the matched rule's actions (JSON), highlight the outcome of its
-- highlight tweak.
-- dialect: all
CREATE TABLE syncapi_notifications (
	user_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	thread_id TEXT NOT NULL,
	highlight INTEGER NOT NULL,
	actions TEXT NOT NULL,
	ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, stream_pos)
);
CREATE INDEX syncapi_notifications_room ON syncapi_notifications (user_id, room_id, stream_pos);
CREATE INDEX syncapi_notifications_event ON syncapi_notifications (event_id);
