-- The state after a state event (0 for other events: the same as before),
-- so that the state at any event of the DAG is one lookup, for state
-- resolution across forks.
-- dialect: all
ALTER TABLE roomserver_events ADD COLUMN snapshot_after BIGINT NOT NULL DEFAULT 0;
