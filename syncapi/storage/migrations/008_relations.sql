-- Relations (spec: client-server API, "Forming relationships between
-- events"): one row per event whose content["m.relates_to"] names a
-- rel_type and a parent event_id, for /relations, /threads and the
-- aggregations bundled in unsigned["m.relations"]. stream_pos is the
-- child's position in syncapi_events (history below 0 included), so a
-- parent's children page in stream order from one index. A redacted child
-- loses its row: its content, m.relates_to included, is gone.
-- dialect: all
CREATE TABLE syncapi_relations (
	event_id TEXT PRIMARY KEY,
	room_id TEXT NOT NULL,
	parent_id TEXT NOT NULL,
	rel_type TEXT NOT NULL,
	event_type TEXT NOT NULL,
	sender TEXT NOT NULL,
	stream_pos BIGINT NOT NULL
);
CREATE INDEX syncapi_relations_parent ON syncapi_relations (parent_id, stream_pos);
CREATE INDEX syncapi_relations_threads ON syncapi_relations (room_id, stream_pos) WHERE rel_type = 'm.thread';
-- Events stored before this migration.
-- dialect: sqlite
INSERT INTO syncapi_relations (event_id, room_id, parent_id, rel_type, event_type, sender, stream_pos)
	SELECT event_id, room_id, json_extract(event_json, '$.content."m.relates_to".event_id'),
		json_extract(event_json, '$.content."m.relates_to".rel_type'), event_type, sender, stream_pos
	FROM syncapi_events WHERE outlier = 0 AND state_key IS NULL AND json_valid(event_json)
		AND json_type(event_json, '$.content."m.relates_to".event_id') = 'text'
		AND json_type(event_json, '$.content."m.relates_to".rel_type') = 'text';
-- dialect: postgres
INSERT INTO syncapi_relations (event_id, room_id, parent_id, rel_type, event_type, sender, stream_pos)
	SELECT event_id, room_id, event_json::jsonb #>> '{content,m.relates_to,event_id}',
		event_json::jsonb #>> '{content,m.relates_to,rel_type}', event_type, sender, stream_pos
	FROM syncapi_events WHERE outlier = 0 AND state_key IS NULL
		AND jsonb_typeof(event_json::jsonb #> '{content,m.relates_to,event_id}') = 'string'
		AND jsonb_typeof(event_json::jsonb #> '{content,m.relates_to,rel_type}') = 'string';
