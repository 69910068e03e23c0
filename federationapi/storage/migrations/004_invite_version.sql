-- The room version and sender of an invite to a room this server is not
-- in: events of that room (a rescinded invite) can then be read, and only
-- the inviter may rescind it.
-- dialect: all
ALTER TABLE federation_invites ADD COLUMN room_version TEXT NOT NULL DEFAULT '';
ALTER TABLE federation_invites ADD COLUMN inviter TEXT NOT NULL DEFAULT '';
