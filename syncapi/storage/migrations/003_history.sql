-- History from other servers: events backfilled from before the oldest this
-- server had of a room take stream positions below every other (counting
-- down from 0 in syncapi_history), so /messages reaches them after the
-- oldest live event and /sync, which reads forwards from a token, never
-- shows them. outlier = 1 marks a state event known only as the room's
-- state at a join through another server: part of the state, not of the
-- timeline, until backfill places it.
-- dialect: all
ALTER TABLE syncapi_events ADD COLUMN outlier INTEGER NOT NULL DEFAULT 0;
CREATE TABLE syncapi_history (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	low BIGINT NOT NULL
);
INSERT INTO syncapi_history (id, low) VALUES (1, 0);
-- The state at a stream position (StateAt) finds, per state key, its
-- newest event at or before the position.
CREATE INDEX syncapi_events_state ON syncapi_events (room_id, event_type, state_key, stream_pos) WHERE state_key IS NOT NULL;
