-- Invites made as direct chats (spec: m.room.member content is_direct), kept
-- after the invite is answered: a room is direct for good once someone was
-- invited to it that way. Friends (direct rooms where both users are
-- joined) and pending friend requests are read from this table with the
-- memberships, in one query each. An invite over federation to a room this
-- server is not in has no membership row: outside_membership then holds
-- the invitee's membership ("invite", or "leave" once rejected); it is ''
-- for rooms whose memberships this server keeps.
-- dialect: all
CREATE TABLE roomserver_direct_invites (
	room_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	sender TEXT NOT NULL,
	event_id TEXT NOT NULL,
	origin_server_ts BIGINT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	outside_membership TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (room_id, user_id)
);
CREATE INDEX roomserver_direct_invites_user ON roomserver_direct_invites (user_id);
CREATE INDEX roomserver_direct_invites_sender ON roomserver_direct_invites (sender);
-- Direct invites stored before this table existed.
-- dialect: sqlite
INSERT INTO roomserver_direct_invites (room_id, user_id, sender, event_id, origin_server_ts, reason)
	SELECT r.room_id, e.state_key, e.sender, e.event_id, e.origin_server_ts,
		COALESCE(json_extract(e.event_json, '$.content.reason'), '')
	FROM roomserver_events e JOIN roomserver_rooms r ON r.room_nid = e.room_nid
	WHERE e.event_type = 'm.room.member' AND e.state_key IS NOT NULL AND NOT e.rejected
		AND json_valid(e.event_json)
		AND json_extract(e.event_json, '$.content.membership') = 'invite'
		AND json_extract(e.event_json, '$.content.is_direct') = 1
	ORDER BY e.event_nid
	ON CONFLICT (room_id, user_id) DO NOTHING;
-- dialect: postgres
INSERT INTO roomserver_direct_invites (room_id, user_id, sender, event_id, origin_server_ts, reason)
	SELECT r.room_id, e.state_key, e.sender, e.event_id, e.origin_server_ts,
		COALESCE(e.event_json::jsonb -> 'content' ->> 'reason', '')
	FROM roomserver_events e JOIN roomserver_rooms r ON r.room_nid = e.room_nid
	WHERE e.event_type = 'm.room.member' AND e.state_key IS NOT NULL AND NOT e.rejected
		AND e.event_json::jsonb -> 'content' ->> 'membership' = 'invite'
		AND e.event_json::jsonb -> 'content' -> 'is_direct' = 'true'::jsonb
	ORDER BY e.event_nid
	ON CONFLICT (room_id, user_id) DO NOTHING;
