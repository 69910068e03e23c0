-- Thumbnails, of local media and of cached remote media alike (origin).
-- Each row is one request box a thumbnail answers: a pre-generated size,
-- one made on demand, or one fetched from the media's server. The file
-- lives in the same content-addressed store as the originals (sha256), so
-- identical bytes are stored once whichever rows name them.
CREATE TABLE mediaapi_thumbnails (
	origin TEXT NOT NULL,
	media_id TEXT NOT NULL,
	width INTEGER NOT NULL,
	height INTEGER NOT NULL,
	method TEXT NOT NULL,
	animated BOOLEAN NOT NULL,
	content_type TEXT NOT NULL,
	size BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (origin, media_id, width, height, method, animated)
);
CREATE INDEX mediaapi_thumbnails_sha256 ON mediaapi_thumbnails (sha256);
