-- The room version of an invite to a room this server is not in: events of
-- that room (a rescinded invite) can then be read.
-- dialect: all
ALTER TABLE federation_invites ADD COLUMN room_version TEXT NOT NULL DEFAULT '';
