-- Gaps in a room's timeline: an event from another server placed with the
-- state that server gave, because the events before it (its prev events)
-- could not all be fetched. /sync reports such a gap with limited = true
-- and starts the room's timeline at the event after it.
-- dialect: all
CREATE TABLE syncapi_timeline_gaps (
	room_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (room_id, stream_pos)
);
