-- Transcriptions of voice messages (the im.myelin.transcribe extension),
-- kept so that the same media item is transcribed once per engine and
-- requested language: asking again answers from here without running the
-- engine.
CREATE TABLE mediaapi_transcriptions (
	origin TEXT NOT NULL,
	media_id TEXT NOT NULL,
	-- The engine that transcribed it (pocketsphinx, openai, baidu).
	engine TEXT NOT NULL,
	-- The language asked for, reduced to its primary subtag ("en" for
	-- en-US); '' when none was.
	requested TEXT NOT NULL,
	text TEXT NOT NULL,
	-- The language the engine transcribed; '' when it does not say.
	language TEXT NOT NULL,
	duration_ms BIGINT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (origin, media_id, engine, requested)
);
