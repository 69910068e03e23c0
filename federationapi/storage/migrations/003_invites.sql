-- Invites local users received from other servers: the server to join (or
-- reject) through, for rooms this server is not in yet.
-- dialect: all
CREATE TABLE federation_invites (
	room_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	via TEXT NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (room_id, user_id)
);
