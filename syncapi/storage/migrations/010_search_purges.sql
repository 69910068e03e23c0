-- Events of purged rooms (the admin API's room delete) whose documents the
-- search backend must drop: the purge that removes the room's rows queues
-- them in its transaction, and the search indexer deletes them from its
-- backend before it reads further, then removes the rows.
-- dialect: all
CREATE TABLE syncapi_search_purges (
	event_id TEXT NOT NULL PRIMARY KEY
);
