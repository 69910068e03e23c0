package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

const eventColumns = `event_nid, event_id, room_nid, event_type, state_key, sender, depth, origin_server_ts,
	snapshot_before, snapshot_after, rejected, outlier, redacted_by, event_json`

func scanEvent(sc sqlutil.Scanner) (*Event, error) {
	var e Event
	var sk, redacted sql.NullString
	var js string
	if err := sc.Scan(&e.NID, &e.ID, &e.RoomNID, &e.Type, &sk, &e.Sender, &e.Depth, &e.OriginServerTS,
		&e.SnapshotBefore, &e.SnapshotAfter, &e.Rejected, &e.Outlier, &redacted, &js); err != nil {
		return nil, err
	}
	if sk.Valid {
		e.StateKey = &sk.String
	}
	e.RedactedBy = redacted.String
	e.JSON = []byte(js)
	return &e, nil
}

// InsertEvent stores an event and returns its numeric ID. Storing an event
// ID that is already there returns the existing event's NID and stored=false.
func (s *Storage) InsertEvent(ctx context.Context, e *Event) (nid EventNID, stored bool, err error) {
	err = s.db.QueryRowWrite(ctx, `INSERT INTO roomserver_events (event_id, room_nid, event_type, state_key, sender, depth,
		origin_server_ts, snapshot_before, rejected, outlier, event_json)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (event_id) DO NOTHING RETURNING event_nid`,
		e.ID, e.RoomNID, e.Type, e.StateKey, e.Sender, e.Depth, e.OriginServerTS, e.SnapshotBefore, e.Rejected, e.Outlier,
		string(e.JSON)).Scan(&nid)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.db.QueryRow(ctx, `SELECT event_nid FROM roomserver_events WHERE event_id = $1`, e.ID).Scan(&nid)
		if err != nil {
			return 0, false, fmt.Errorf("storage: reading existing event: %w", err)
		}
		return nid, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("storage: inserting event: %w", err)
	}
	return nid, true, nil
}

// SetSnapshotAfter records the state after a state event.
func (s *Storage) SetSnapshotAfter(ctx context.Context, nid EventNID, snapshot SnapshotNID) error {
	if _, err := s.db.Exec(ctx, `UPDATE roomserver_events SET snapshot_after = $2 WHERE event_nid = $1`, nid, snapshot); err != nil {
		return fmt.Errorf("storage: recording the state after event %d: %w", nid, err)
	}
	return nil
}

// EventByID reads one event; ErrNotFound if unknown.
func (s *Storage) EventByID(ctx context.Context, id string) (*Event, error) {
	e, err := scanEvent(s.db.QueryRow(ctx, `SELECT `+eventColumns+` FROM roomserver_events WHERE event_id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading event: %w", err)
	}
	return e, nil
}

// EventsByNID reads events by numeric ID, in no particular order; unknown
// IDs are left out.
func (s *Storage) EventsByNID(ctx context.Context, nids []EventNID) ([]*Event, error) {
	evs, err := sqlutil.Select(ctx, s.db, scanEvent,
		`SELECT `+eventColumns+` FROM roomserver_events WHERE event_nid = ANY($1)`, sqlutil.List(nids))
	if err != nil {
		return nil, fmt.Errorf("storage: reading events: %w", err)
	}
	return evs, nil
}

// EventsByID reads events by ID, in no particular order; unknown IDs are
// left out.
func (s *Storage) EventsByID(ctx context.Context, ids []string) ([]*Event, error) {
	evs, err := sqlutil.Select(ctx, s.db, scanEvent,
		`SELECT `+eventColumns+` FROM roomserver_events WHERE event_id = ANY($1)`, sqlutil.List(ids))
	if err != nil {
		return nil, fmt.Errorf("storage: reading events: %w", err)
	}
	return evs, nil
}

// SetRedacted records that an event was redacted by another and replaces its
// JSON with the redacted form. The original JSON moves to
// roomserver_redacted_originals (redaction history, redactions.go), stamped
// nowMs, so an admin's export can still read it until it is pruned.
func (s *Storage) SetRedacted(ctx context.Context, eventID, redactedBy string, redactedJSON []byte, nowMs int64) error {
	_, err := s.db.Exec(ctx, `INSERT INTO roomserver_redacted_originals (event_nid, room_nid, redacted_by, redacted_ts, event_json)
		SELECT event_nid, room_nid, $2, $3, event_json FROM roomserver_events WHERE event_id = $1 AND redacted_by IS NULL
		ON CONFLICT (event_nid) DO NOTHING`, eventID, redactedBy, nowMs)
	if err != nil {
		return fmt.Errorf("storage: keeping the original of a redacted event: %w", err)
	}
	_, err = s.db.Exec(ctx, `UPDATE roomserver_events SET redacted_by = $2, event_json = $3 WHERE event_id = $1`,
		eventID, redactedBy, string(redactedJSON))
	if err != nil {
		return fmt.Errorf("storage: redacting event: %w", err)
	}
	return nil
}

// InsertTxn remembers which event a client transaction produced. If the
// transaction is already known, the stored event ID is returned instead.
func (s *Storage) InsertTxn(ctx context.Context, userID, deviceID, txnID, eventID string, nowMs int64) (string, error) {
	var id string
	err := s.db.QueryRowWrite(ctx, `INSERT INTO roomserver_txns (user_id, device_id, txn_id, event_id, created_ts)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, device_id, txn_id) DO NOTHING RETURNING event_id`, userID, deviceID, txnID, eventID, nowMs).Scan(&id)
	switch {
	case err == nil:
		return id, nil
	case errors.Is(err, sql.ErrNoRows):
		return s.TxnEvent(ctx, userID, deviceID, txnID) // used before
	default:
		return "", fmt.Errorf("storage: recording transaction: %w", err)
	}
}

// TxnEvent returns the event a client transaction produced; ErrNotFound if
// the transaction is new.
func (s *Storage) TxnEvent(ctx context.Context, userID, deviceID, txnID string) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `SELECT event_id FROM roomserver_txns WHERE user_id = $1 AND device_id = $2 AND txn_id = $3`,
		userID, deviceID, txnID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("storage: reading transaction: %w", err)
	}
	return id, nil
}

// EventNearTS returns the room's event in its timeline (not an outlier,
// not rejected) whose origin_server_ts is nearest ts: the first at or after
// it when forward, else the last at or before it; ties go to the event
// stored first (forward) or last (backward). ErrNotFound when there is
// none.
func (s *Storage) EventNearTS(ctx context.Context, roomNID RoomNID, ts int64, forward bool) (*Event, error) {
	q := `SELECT ` + eventColumns + ` FROM roomserver_events WHERE room_nid = $1 AND origin_server_ts <= $2
		AND outlier = FALSE AND rejected = FALSE ORDER BY origin_server_ts DESC, event_nid DESC LIMIT 1`
	if forward {
		q = `SELECT ` + eventColumns + ` FROM roomserver_events WHERE room_nid = $1 AND origin_server_ts >= $2
		AND outlier = FALSE AND rejected = FALSE ORDER BY origin_server_ts ASC, event_nid ASC LIMIT 1`
	}
	e, err := scanEvent(s.db.QueryRow(ctx, q, roomNID, ts))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading the event nearest a time: %w", err)
	}
	return e, nil
}
