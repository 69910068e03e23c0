-- A user's newest event in a room (their implicit read marker for unread
-- counts) without scanning the room.
-- dialect: all
CREATE INDEX syncapi_events_sender ON syncapi_events (room_id, sender, stream_pos);
