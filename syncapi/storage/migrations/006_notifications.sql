-- Notifications (spec: client-server API, "Push Notifications", "Receiving
-- notifications"), written with each event by the push rule evaluation.
-- Most local members of a room get the same outcome from an event (with
-- the default rules: every member but the sender is notified), so one row
-- per event holds that common outcome for the whole room, and only users
-- whose outcome differs (a mention, a muted room) get a row of their own.
-- A message into a room of 1,000 members is then one or a few rows, not
-- 1,000 rows scattered through a per-user index.
--
-- syncapi_notify_events: an event that notifies anyone; notify, highlight
-- and actions are the common outcome of the room's local members (the
-- sender aside: their own events never count for them). thread_id is the
-- thread root ('' for the main timeline).
-- dialect: all
CREATE TABLE syncapi_notify_events (
	room_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	event_id TEXT NOT NULL,
	sender TEXT NOT NULL,
	thread_id TEXT NOT NULL,
	notify INTEGER NOT NULL,
	highlight INTEGER NOT NULL,
	actions TEXT NOT NULL,
	ts BIGINT NOT NULL,
	PRIMARY KEY (room_id, stream_pos)
);
CREATE INDEX syncapi_notify_events_event ON syncapi_notify_events (event_id);
-- syncapi_notify_users: a user whose outcome of an event differs from the
-- room's common one.
CREATE TABLE syncapi_notify_users (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	notify INTEGER NOT NULL,
	highlight INTEGER NOT NULL,
	actions TEXT NOT NULL,
	PRIMARY KEY (user_id, room_id, stream_pos)
);
CREATE INDEX syncapi_notify_users_pos ON syncapi_notify_users (user_id, stream_pos);
