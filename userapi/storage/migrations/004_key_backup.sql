-- Server-side key backups (spec: "Server-side key backups"). Room keys are
-- encrypted by the client for the backup's public key (auth_data): the
-- server keeps auth_data and session_data as sent and reads only the
-- metadata that decides which copy of a session to keep.

-- A user's backup versions, numbered 1, 2, ... per user. A deleted version
-- keeps its row (deleted, its keys gone) so that its number is never given
-- out again and deleting it twice succeeds. The current version is the
-- highest one not deleted. etag counts the changes to the version's keys;
-- the row is also the lock writers of its keys take first.
CREATE TABLE userapi_key_backup_versions (
	localpart TEXT NOT NULL,
	version BIGINT NOT NULL,
	algorithm TEXT NOT NULL,
	auth_data TEXT NOT NULL,
	etag BIGINT NOT NULL DEFAULT 0,
	deleted BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (localpart, version)
);

-- One key per backup version, room and Megolm session: the KeyBackupData
-- object of PUT /room_keys/keys, its session_data as sent.
CREATE TABLE userapi_key_backup_keys (
	localpart TEXT NOT NULL,
	version BIGINT NOT NULL,
	room_id TEXT NOT NULL,
	session_id TEXT NOT NULL,
	first_message_index BIGINT NOT NULL,
	forwarded_count BIGINT NOT NULL,
	is_verified BOOLEAN NOT NULL,
	session_data TEXT NOT NULL,
	PRIMARY KEY (localpart, version, room_id, session_id)
);
