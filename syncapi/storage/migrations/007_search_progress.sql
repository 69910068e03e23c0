-- Message search (syncapi/search/indexer): how far each search backend's
-- index has read syncapi_events. pos is the highest live stream position
-- indexed; low is the lowest position indexed of the history below 0 that
-- backfill adds (it counts down, so new history lies below low). A backend
-- has indexed every stored timeline event with low <= stream_pos <= pos.
-- dialect: all
CREATE TABLE syncapi_search_progress (
	backend TEXT PRIMARY KEY,
	pos BIGINT NOT NULL,
	low BIGINT NOT NULL
);
