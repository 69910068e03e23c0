-- Answers of GET /_matrix/client/v1/media/preview_url, reused until they
-- expire (media_api.url_preview.cache_ttl). One row per URL (its fragment
-- dropped), keyed by the URL's SHA-256: a URL may be up to 4 KiB, more than
-- a PostgreSQL index entry holds. Expired rows are removed as new answers
-- are stored.
CREATE TABLE mediaapi_url_previews (
	url_sha256 TEXT PRIMARY KEY,
	url TEXT NOT NULL,
	response TEXT NOT NULL,
	fetched_ts BIGINT NOT NULL,
	expires_ts BIGINT NOT NULL
);
CREATE INDEX mediaapi_url_previews_expires ON mediaapi_url_previews (expires_ts);
