// Package storage keeps the sync component's data: every room event in
// stream order (the position a /sync token counts), each room's current
// state, and stored filters. Queries run on SQLite and PostgreSQL.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned for unknown filters and events.
var ErrNotFound = errors.New("syncapi storage: not found")

// Event is a stored event: its stream position and client-format JSON.
type Event struct {
	Pos        int64
	ID         string
	RoomID     string
	Type       string
	Sender     string
	StateKey   *string
	Membership string
	TS         int64
	TxnID      string
	DeviceID   string
	JSON       []byte
	// NotCurrent, for a state event, keeps it out of the current state (it
	// lost state resolution; memory only).
	NotCurrent bool
	// Outlier marks a state event known only as part of a room's state at a
	// join through another server: it gets a position below the timeline
	// (historyPositions) and no place in it.
	Outlier bool
	// Gap marks an event placed after a gap in the room's timeline (its
	// prev events are not in it); stored in syncapi_timeline_gaps.
	Gap bool
}

// Storage is the sync component's database.
type Storage struct {
	db *sqlutil.DB
}

// New migrates the schema and returns the storage.
func New(ctx context.Context, db *sqlutil.DB) (*Storage, error) {
	if err := sqlutil.MigrateDir(ctx, db, "syncapi", migrations, "migrations"); err != nil {
		return nil, err
	}
	return &Storage{db: db}, nil
}

// WithTx runs fn in one transaction.
func (s *Storage) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.WithTx(ctx, fn)
}

// AfterCommit runs fn once the transaction ctx carries has committed (at
// once without one).
func (s *Storage) AfterCommit(ctx context.Context, fn func()) { s.db.AfterCommit(ctx, fn) }

// WithGroupTx runs fn in a transaction shared with concurrent writes (group
// commit; see sqlutil.DB.WithGroupTx: fn may run more than once).
func (s *Storage) WithGroupTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.WithGroupTx(ctx, fn)
}

// InsertEvent stores an event at the next stream position and, for state
// events, makes it the room's current state. An event already stored is
// left alone and its position returned with stored=false, so consumers can
// be replayed.
func (s *Storage) InsertEvent(ctx context.Context, e *Event) (pos int64, stored bool, err error) {
	err = s.db.WithGroupTx(ctx, func(ctx context.Context) error {
		var m any
		if e.Membership != "" {
			m = e.Membership
		}
		var err error
		if e.Outlier {
			// Known already (say, an invite this server was sent): it keeps
			// its place.
			err = s.db.QueryRow(ctx, `SELECT stream_pos FROM syncapi_events WHERE event_id = $1`, e.ID).Scan(&pos)
			if !errors.Is(err, sql.ErrNoRows) {
				stored = false
				return err
			}
			var low int64
			if low, err = s.historyPositions(ctx, 1); err != nil {
				return err
			}
			err = s.db.QueryRowWrite(ctx, `INSERT INTO syncapi_events (stream_pos, event_id, room_id, event_type, sender, state_key,
				membership, origin_server_ts, txn_id, device_id, event_json, outlier)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)
				RETURNING stream_pos`,
				low, e.ID, e.RoomID, e.Type, e.Sender, e.StateKey, m, e.TS, e.TxnID, e.DeviceID, string(e.JSON)).Scan(&pos)
		} else {
			err = s.db.QueryRowWrite(ctx, `INSERT INTO syncapi_events (event_id, room_id, event_type, sender, state_key, membership,
				origin_server_ts, txn_id, device_id, event_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (event_id) DO NOTHING RETURNING stream_pos`,
				e.ID, e.RoomID, e.Type, e.Sender, e.StateKey, m, e.TS, e.TxnID, e.DeviceID, string(e.JSON)).Scan(&pos)
		}
		if errors.Is(err, sql.ErrNoRows) {
			stored = false
			return s.db.QueryRow(ctx, `SELECT stream_pos FROM syncapi_events WHERE event_id = $1`, e.ID).Scan(&pos)
		}
		if err != nil {
			return err
		}
		stored = true
		if !e.Outlier {
			if err := s.indexRelation(ctx, e, pos); err != nil {
				return err
			}
		}
		if e.Gap {
			if _, err := s.db.Exec(ctx, `INSERT INTO syncapi_timeline_gaps (room_id, stream_pos) VALUES ($1, $2)
				ON CONFLICT DO NOTHING`, e.RoomID, pos); err != nil {
				return err
			}
		}
		if e.StateKey != nil && !e.NotCurrent {
			_, err = s.db.Exec(ctx, `INSERT INTO syncapi_current_state (room_id, event_type, state_key, event_id, stream_pos, membership)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (room_id, event_type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id,
					stream_pos = EXCLUDED.stream_pos, membership = EXCLUDED.membership`,
				e.RoomID, e.Type, *e.StateKey, e.ID, pos, m)
		}
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("syncapi storage: inserting event: %w", err)
	}
	return pos, stored, nil
}

// SetCurrentState makes stored state events current for their keys (after
// state resolution chose them).
func (s *Storage) SetCurrentState(ctx context.Context, eventIDs []string) error {
	if len(eventIDs) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, `INSERT INTO syncapi_current_state (room_id, event_type, state_key, event_id, stream_pos, membership)
		SELECT room_id, event_type, state_key, event_id, stream_pos, membership FROM syncapi_events
		WHERE event_id = ANY($1) AND state_key IS NOT NULL
		ON CONFLICT (room_id, event_type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id,
			stream_pos = EXCLUDED.stream_pos, membership = EXCLUDED.membership`, sqlutil.List(eventIDs))
	if err != nil {
		return fmt.Errorf("syncapi storage: setting current state: %w", err)
	}
	return nil
}

// MaxPos is the highest stream position stored (0: none).
func (s *Storage) MaxPos(ctx context.Context) (int64, error) {
	var p int64
	err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(stream_pos), 0) FROM syncapi_events`).Scan(&p)
	return p, err
}

const eventColumns = `stream_pos, event_id, room_id, event_type, sender, state_key, COALESCE(membership, ''),
	origin_server_ts, txn_id, device_id, event_json`

func scanEvent(sc sqlutil.Scanner) (*Event, error) {
	var e Event
	var sk sql.NullString
	var js string
	if err := sc.Scan(&e.Pos, &e.ID, &e.RoomID, &e.Type, &e.Sender, &sk, &e.Membership, &e.TS, &e.TxnID, &e.DeviceID, &js); err != nil {
		return nil, err
	}
	if sk.Valid {
		e.StateKey = &sk.String
	}
	e.JSON = []byte(js)
	return &e, nil
}

// MembershipAt returns the user's membership of a room as of stream
// position pos ("leave" if none) and the position of that event.
func (s *Storage) MembershipAt(ctx context.Context, roomID, userID string, pos int64) (string, int64, error) {
	var m string
	var at int64
	err := s.db.QueryRow(ctx, `SELECT COALESCE(membership, ''), stream_pos FROM syncapi_events
		WHERE room_id = $1 AND event_type = 'm.room.member' AND state_key = $2 AND stream_pos <= $3
		ORDER BY stream_pos DESC LIMIT 1`, roomID, userID, pos).Scan(&m, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return "leave", 0, nil
	}
	return m, at, err
}

// RoomEvents returns up to limit timeline events of a room with from < pos
// <= to, newest first when backwards, else oldest first.
func (s *Storage) RoomEvents(ctx context.Context, roomID string, from, to int64, limit int, backwards bool) ([]*Event, error) {
	order := "ASC"
	if backwards {
		order = "DESC"
	}
	// order is one of two constants above.
	return sqlutil.Select(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM syncapi_events
		WHERE room_id = $1 AND stream_pos > $2 AND stream_pos <= $3 AND outlier = 0
		ORDER BY stream_pos `+order+` LIMIT $4`, roomID, from, to, limit)
}

// LastGap is the stream position of the newest event of a room in
// (from, to] placed after a gap in its timeline (0, false: none).
func (s *Storage) LastGap(ctx context.Context, roomID string, from, to int64) (int64, bool, error) {
	var p sql.NullInt64
	err := s.db.QueryRow(ctx, `SELECT MAX(stream_pos) FROM syncapi_timeline_gaps
		WHERE room_id = $1 AND stream_pos > $2 AND stream_pos <= $3`, roomID, from, to).Scan(&p)
	if err != nil {
		return 0, false, fmt.Errorf("syncapi storage: reading timeline gaps: %w", err)
	}
	return p.Int64, p.Valid, nil
}

// LastSentPos is the stream position of userID's newest event in roomID at
// or before upto (0: none).
func (s *Storage) LastSentPos(ctx context.Context, roomID, userID string, upto int64) (int64, error) {
	var p int64
	err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(stream_pos), 0) FROM syncapi_events
		WHERE room_id = $1 AND sender = $2 AND stream_pos <= $3`, roomID, userID, upto).Scan(&p)
	if err != nil {
		return 0, fmt.Errorf("syncapi storage: reading the last sent event: %w", err)
	}
	return p, nil
}

// EventByID returns one event.
func (s *Storage) EventByID(ctx context.Context, eventID string) (*Event, error) {
	e, err := scanEvent(s.db.QueryRow(ctx, `SELECT `+eventColumns+` FROM syncapi_events WHERE event_id = $1`, eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return e, err
}

// CurrentState returns a room's current state events.
func (s *Storage) CurrentState(ctx context.Context, roomID string) ([]*Event, error) {
	return sqlutil.Select(ctx, s.db, scanEvent, `SELECT e.stream_pos, e.event_id, e.room_id, e.event_type, e.sender, e.state_key,
		COALESCE(e.membership, ''), e.origin_server_ts, e.txn_id, e.device_id, e.event_json
		FROM syncapi_current_state c JOIN syncapi_events e ON e.event_id = c.event_id WHERE c.room_id = $1 ORDER BY e.stream_pos`, roomID)
}

// CurrentStateEvent returns the current state event of a room for a key
// (ErrNotFound if none).
func (s *Storage) CurrentStateEvent(ctx context.Context, roomID, eventType, stateKey string) (*Event, error) {
	e, err := scanEvent(s.db.QueryRow(ctx, `SELECT e.stream_pos, e.event_id, e.room_id, e.event_type, e.sender, e.state_key,
		COALESCE(e.membership, ''), e.origin_server_ts, e.txn_id, e.device_id, e.event_json
		FROM syncapi_current_state c JOIN syncapi_events e ON e.event_id = c.event_id
		WHERE c.room_id = $1 AND c.event_type = $2 AND c.state_key = $3`, roomID, eventType, stateKey))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return e, err
}

// StateEventAt is one state event of a room as of stream position pos:
// the latest (type, state_key) event at or before pos; ErrNotFound if none.
func (s *Storage) StateEventAt(ctx context.Context, roomID, eventType, stateKey string, pos int64) (*Event, error) {
	e, err := scanEvent(s.db.QueryRow(ctx, `SELECT `+eventColumns+` FROM syncapi_events
		WHERE room_id = $1 AND event_type = $2 AND state_key = $3 AND stream_pos <= $4
		ORDER BY stream_pos DESC LIMIT 1`, roomID, eventType, stateKey, pos))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return e, err
}

// StateAt returns a room's state as of stream position pos: for each
// (type, state_key), the latest state event at or before pos.
func (s *Storage) StateAt(ctx context.Context, roomID string, pos int64) ([]*Event, error) {
	return sqlutil.Select(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM syncapi_events e
		WHERE e.room_id = $1 AND e.state_key IS NOT NULL AND e.stream_pos <= $2 AND e.stream_pos = (
			SELECT MAX(e2.stream_pos) FROM syncapi_events e2 WHERE e2.room_id = e.room_id AND e2.event_type = e.event_type
			AND e2.state_key = e.state_key AND e2.stream_pos <= $2) ORDER BY e.stream_pos`, roomID, pos)
}

// AllMemberships lists every current membership of every room, for the
// notifier.
func (s *Storage) AllMemberships(ctx context.Context) ([]RoomUserMembership, error) {
	return sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (RoomUserMembership, error) {
		var r RoomUserMembership
		return r, sc.Scan(&r.RoomID, &r.UserID, &r.Membership, &r.Pos)
	}, `SELECT room_id, state_key, COALESCE(membership, ''), stream_pos FROM syncapi_current_state WHERE event_type = 'm.room.member'`)
}

// RoomUserMembership is one user's current membership of one room.
type RoomUserMembership struct {
	RoomID, UserID, Membership string
	Pos                        int64
}

// InsertFilter stores a filter and returns its ID.
func (s *Storage) InsertFilter(ctx context.Context, userID string, filterJSON []byte) (int64, error) {
	var id int64
	err := s.db.QueryRowWrite(ctx, `INSERT INTO syncapi_filters (user_id, filter_json) VALUES ($1, $2) RETURNING filter_id`,
		userID, string(filterJSON)).Scan(&id)
	return id, err
}

// Filter returns a stored filter of a user; ErrNotFound if unknown.
func (s *Storage) Filter(ctx context.Context, userID string, id int64) ([]byte, error) {
	var js string
	err := s.db.QueryRow(ctx, `SELECT filter_json FROM syncapi_filters WHERE user_id = $1 AND filter_id = $2`, userID, id).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return []byte(js), err
}

// ReplaceEventJSON replaces a stored event's client JSON (a redaction),
// keeping its stream position. The redacted event leaves the relation
// index: it relates to nothing any more.
func (s *Storage) ReplaceEventJSON(ctx context.Context, eventID string, js []byte) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		_, err := s.db.Exec(ctx, `UPDATE syncapi_events SET event_json = $2 WHERE event_id = $1`, eventID, string(js))
		if err != nil {
			return fmt.Errorf("syncapi storage: replacing event: %w", err)
		}
		if _, _, ok := RelationOf(js); !ok {
			return s.forgetRelation(ctx, eventID)
		}
		return nil
	})
}

// The streams whose positions come from syncapi_streams.
const (
	receiptStream  = "receipt"
	presenceStream = "presence"
)

// nextStreamPos takes a stream's next position, in the transaction ctx
// carries: its row stays locked until that commits, so positions become
// visible in the order they were taken.
func (s *Storage) nextStreamPos(ctx context.Context, stream string) (int64, error) {
	var pos int64
	err := s.db.QueryRowWrite(ctx, `UPDATE syncapi_streams SET pos = pos + 1 WHERE name = $1 RETURNING pos`, stream).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("syncapi storage: taking a %s position: %w", stream, err)
	}
	return pos, nil
}

// streamPos is a stream's latest position (0: none).
func (s *Storage) streamPos(ctx context.Context, stream string) (int64, error) {
	var pos int64
	if err := s.db.QueryRow(ctx, `SELECT pos FROM syncapi_streams WHERE name = $1`, stream).Scan(&pos); err != nil {
		return 0, fmt.Errorf("syncapi storage: reading the %s position: %w", stream, err)
	}
	return pos, nil
}
