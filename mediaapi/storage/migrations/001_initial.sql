-- The content repository. Files live on disk under the SHA-256 of their
-- content (mediaapi/internal); these tables say which mxc:// URI is which
-- file, which created media IDs still wait for their upload, and how much
-- each user has uploaded.

-- One row per mxc:// URI with content. Several rows may share a file
-- (sha256): the same bytes are stored once.
CREATE TABLE mediaapi_media (
	origin TEXT NOT NULL,
	media_id TEXT NOT NULL,
	content_type TEXT NOT NULL,
	upload_name TEXT NOT NULL DEFAULT '',
	size BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	uploader TEXT NOT NULL DEFAULT '',
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (origin, media_id)
);
CREATE INDEX mediaapi_media_sha256 ON mediaapi_media (sha256);

-- Media IDs made by POST /_matrix/media/v1/create whose content has not
-- arrived; the row goes when the upload commits or the sweep finds it
-- expired.
CREATE TABLE mediaapi_pending (
	media_id TEXT PRIMARY KEY,
	uploader TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	expires_ts BIGINT NOT NULL
);
CREATE INDEX mediaapi_pending_uploader ON mediaapi_pending (uploader, expires_ts);
CREATE INDEX mediaapi_pending_expires ON mediaapi_pending (expires_ts);

-- Bytes each user has uploaded (media_api.user_quota_bytes), every upload
-- counted in full even when its file was already stored.
CREATE TABLE mediaapi_usage (
	user_id TEXT PRIMARY KEY,
	bytes BIGINT NOT NULL
);
