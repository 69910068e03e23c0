-- Purged events (docs/decisions.md, "Message retention"): a purge deletes
-- message events from syncapi_events and queues their IDs here, in the
-- same transaction, for the search indexer, which deletes their documents
-- from the search backend and then the rows: the index never keeps what
-- the timeline lost, even across a crash.
CREATE TABLE syncapi_search_purges (
	event_id TEXT PRIMARY KEY
);
