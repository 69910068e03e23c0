-- The user directory (spec: POST /user_directory/search). One row per
-- searchable user: local users from their global profile (never a
-- room-specific member name), other servers' users from their latest join
-- in a room this server is in. Deactivated users have no row.
-- signature is the product's profile field im.myelin.signature.
CREATE TABLE userapi_user_directory (
	user_id TEXT NOT NULL PRIMARY KEY,
	is_local BOOLEAN NOT NULL,
	display_name TEXT NOT NULL,
	avatar_url TEXT NOT NULL,
	signature TEXT NOT NULL
);
-- The search terms of each directory row: lower-cased words of the user ID's
-- localpart, display name and signature, the whole lower-cased user ID,
-- and every suffix of a run of CJK characters (so a prefix search finds a
-- substring). A search is a range scan of the (term, user_id) index, so the
-- terms compare byte-wise on both databases (COLLATE "C" on PostgreSQL;
-- SQLite's BINARY is the default).
-- dialect: sqlite
CREATE TABLE userapi_user_directory_terms (
	user_id TEXT NOT NULL,
	term TEXT NOT NULL,
	PRIMARY KEY (user_id, term)
) WITHOUT ROWID;
-- dialect: postgres
CREATE TABLE userapi_user_directory_terms (
	user_id TEXT NOT NULL,
	term TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (user_id, term)
);
-- dialect: all
CREATE INDEX userapi_user_directory_terms_term ON userapi_user_directory_terms (term, user_id);
-- Who is joined to which room, for rooms with a local member: what
-- search_all_users=false needs to tell who shares a room with whom.
CREATE TABLE userapi_user_directory_rooms (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	is_local BOOLEAN NOT NULL,
	PRIMARY KEY (user_id, room_id)
);
CREATE INDEX userapi_user_directory_rooms_room ON userapi_user_directory_rooms (room_id);
-- Rooms whose members anyone may find (spec: a public join rule or
-- world_readable history visibility).
CREATE TABLE userapi_user_directory_public_rooms (
	room_id TEXT NOT NULL PRIMARY KEY,
	public_join BOOLEAN NOT NULL,
	world_readable BOOLEAN NOT NULL
);
