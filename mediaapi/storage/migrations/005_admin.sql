-- What the server's admins decide about media (Synapse's admin media API).
-- A quarantined URI is never served (its downloads answer 404), whether
-- this server holds its content or not (a remote URI quarantined before
-- anyone fetched it is never fetched); quarantined_by is the admin's user
-- ID, quarantined_ts milliseconds since the epoch. A protected local media
-- ID is skipped by the quarantines of a room's or a user's media and by
-- deletions by age and size.
-- dialect: all
CREATE TABLE mediaapi_quarantine (
	origin TEXT NOT NULL,
	media_id TEXT NOT NULL,
	quarantined_by TEXT NOT NULL,
	quarantined_ts BIGINT NOT NULL,
	PRIMARY KEY (origin, media_id)
);
CREATE TABLE mediaapi_protected (
	media_id TEXT NOT NULL PRIMARY KEY
);
CREATE INDEX mediaapi_media_uploader ON mediaapi_media (uploader, created_ts);
