-- When each application service's sender first ran: events published to the
-- output log before then are not pushed to it (a new bridge does not get the
-- log's retained history).
-- dialect: all
CREATE TABLE appservice_senders (
	appservice_id TEXT PRIMARY KEY,
	since_ms BIGINT NOT NULL
);
