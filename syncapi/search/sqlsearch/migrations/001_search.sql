-- The SQL search backend (docs/decisions.md, "Message search: SQL backend"):
-- one row per searchable key of an event, and a full-text index over the
-- text as search.Analyze prepared it (space-separated words and CJK bigrams,
-- and the CJK characters), so the database never re-tokenises it.
-- dialect: sqlite
CREATE TABLE syncapi_search_docs (
	id INTEGER PRIMARY KEY,
	event_id TEXT NOT NULL,
	search_key TEXT NOT NULL,
	room_id TEXT NOT NULL,
	sender TEXT NOT NULL,
	event_type TEXT NOT NULL,
	origin_server_ts BIGINT NOT NULL,
	stream_pos BIGINT NOT NULL,
	UNIQUE (event_id, search_key)
);
-- Contentless (the text is not stored twice), rowid = syncapi_search_docs.id.
-- The ascii tokenizer splits on ASCII spaces and punctuation only and keeps
-- every non-ASCII character as part of a token, so words and CJK bigrams stay
-- exactly the tokens search.Analyze made.
-- The room column holds one token naming the document's room (see roomToken),
-- so that a query over a few rooms intersects with their documents inside
-- FTS5 rather than ranking matches in every room.
CREATE VIRTUAL TABLE syncapi_search_fts USING fts5(
	words, chars, room, content='', contentless_delete=1, tokenize='ascii'
);
-- dialect: postgres
CREATE TABLE syncapi_search_docs (
	id BIGSERIAL PRIMARY KEY,
	event_id TEXT NOT NULL,
	search_key TEXT NOT NULL,
	room_id TEXT NOT NULL,
	sender TEXT NOT NULL,
	event_type TEXT NOT NULL,
	origin_server_ts BIGINT NOT NULL,
	stream_pos BIGINT NOT NULL,
	-- Built in Go from the analysed words (with positions) and characters
	-- (prefixed '#'), never by a text search configuration.
	tsv TSVECTOR NOT NULL,
	UNIQUE (event_id, search_key)
);
CREATE INDEX syncapi_search_docs_tsv ON syncapi_search_docs USING GIN (tsv);
-- dialect: all
CREATE INDEX syncapi_search_docs_room ON syncapi_search_docs (room_id, stream_pos);
