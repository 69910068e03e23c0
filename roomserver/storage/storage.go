// Package storage keeps the roomserver's data: rooms, events, state
// snapshots, current memberships and client transaction IDs. Every query is
// written once for SQLite and PostgreSQL.
//
// State is stored as snapshots chained by deltas: a snapshot records only the
// state entries that changed since its parent, and every maxChain-th snapshot
// of a chain is written whole, so reading any state touches a bounded number
// of snapshots while storage grows with state changes, not with events.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Errors of the storage.
var (
	ErrNotFound   = errors.New("roomserver storage: not found")
	ErrRoomExists = errors.New("roomserver storage: room exists")
)

// Numeric IDs used inside the roomserver only.
type (
	RoomNID     int64
	EventNID    int64
	SnapshotNID int64
)

// StateKey names one piece of room state.
type StateKey struct {
	Type     string
	StateKey string
}

// StateEntry is one piece of state and the event that set it.
type StateEntry struct {
	StateKey
	EventNID EventNID
}

// Room is a room's row: its version and head (current state snapshot,
// forward extremities and greatest depth).
type Room struct {
	NID         RoomNID
	ID          string
	Version     string
	SnapshotNID SnapshotNID
	Extremities []string
	Depth       int64
}

// Event is an event's row.
type Event struct {
	NID            EventNID
	ID             string
	RoomNID        RoomNID
	Type           string
	StateKey       *string
	Sender         string
	Depth          int64
	OriginServerTS int64
	SnapshotBefore SnapshotNID
	// SnapshotAfter is the state after a state event (0: the same as
	// SnapshotBefore).
	SnapshotAfter SnapshotNID
	Rejected      bool
	Outlier       bool
	RedactedBy    string
	JSON          []byte
}

// maxChain bounds the number of delta snapshots between two whole ones.
const maxChain = 32

// Storage is the roomserver's database.
type Storage struct {
	db *sqlutil.DB
}

// AfterCommit runs fn once the transaction in ctx commits (at once when
// there is none).
func (s *Storage) AfterCommit(ctx context.Context, fn func()) { s.db.AfterCommit(ctx, fn) }

// New migrates the schema and returns the storage.
func New(ctx context.Context, db *sqlutil.DB) (*Storage, error) {
	if err := sqlutil.MigrateDir(ctx, db, "roomserver", migrations, "migrations"); err != nil {
		return nil, err
	}
	return &Storage{db: db}, nil
}

// DB is the database the storage uses, for components that publish to the
// bus in the same transaction.
func (s *Storage) DB() *sqlutil.DB { return s.db }

// WithTx runs fn in one transaction.
func (s *Storage) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.WithTx(ctx, fn)
}

// WithRoomGroupTx runs fn in a transaction shared with concurrent writes
// (group commit; see sqlutil.DB.WithGroupTxKey): writes of one room share a
// lane, rooms on different lanes commit in parallel on PostgreSQL.
func (s *Storage) WithRoomGroupTx(ctx context.Context, roomID string, fn func(ctx context.Context) error) error {
	return s.db.WithGroupTxKey(ctx, roomID, fn)
}

// SubmitRoomGroupTx queues fn like WithRoomGroupTx without waiting; with
// after, fn runs only if that earlier write of the room commits (see
// sqlutil.DB.SubmitGroupTxKey).
func (s *Storage) SubmitRoomGroupTx(
	ctx context.Context,
	roomID string,
	after *sqlutil.Pending,
	fn func(ctx context.Context) error,
) *sqlutil.Pending {
	return s.db.SubmitGroupTxKey(ctx, roomID, after, fn)
}

// InsertRoom creates a room; ErrRoomExists if the ID is taken.
func (s *Storage) InsertRoom(ctx context.Context, roomID, version string) (RoomNID, error) {
	var nid RoomNID
	err := s.db.QueryRowWrite(ctx, `INSERT INTO roomserver_rooms (room_id, room_version) VALUES ($1, $2)
		ON CONFLICT (room_id) DO NOTHING RETURNING room_nid`, roomID, version).Scan(&nid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrRoomExists
	}
	if err != nil {
		return 0, fmt.Errorf("storage: inserting room: %w", err)
	}
	return nid, nil
}

// Room reads a room by ID; ErrNotFound if unknown.
func (s *Storage) Room(ctx context.Context, roomID string) (*Room, error) {
	return s.room(ctx, `SELECT `+roomColumns+` FROM roomserver_rooms WHERE room_id = $1`, roomID)
}

// RoomByNID reads a room by numeric ID; ErrNotFound if unknown.
func (s *Storage) RoomByNID(ctx context.Context, nid RoomNID) (*Room, error) {
	return s.room(ctx, `SELECT `+roomColumns+` FROM roomserver_rooms WHERE room_nid = $1`, nid)
}

// roomColumns are the columns room scans.
const roomColumns = `room_nid, room_id, room_version, snapshot_nid, extremities, depth`

func (s *Storage) room(ctx context.Context, query string, arg any) (*Room, error) {
	var r Room
	var ext string
	err := s.db.QueryRow(ctx, query, arg).Scan(&r.NID, &r.ID, &r.Version, &r.SnapshotNID, &ext, &r.Depth)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading room: %w", err)
	}
	if err := json.Unmarshal([]byte(ext), &r.Extremities); err != nil {
		return nil, fmt.Errorf("storage: room %s has corrupt extremities: %w", r.ID, err)
	}
	return &r, nil
}

// SetRoomHead records a room's current state, forward extremities and depth.
func (s *Storage) SetRoomHead(ctx context.Context, nid RoomNID, snapshot SnapshotNID, extremities []string, depth int64) error {
	ext, err := json.Marshal(extremities)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `UPDATE roomserver_rooms SET snapshot_nid = $2, extremities = $3, depth = $4 WHERE room_nid = $1`,
		nid, snapshot, string(ext), depth)
	if err != nil {
		return fmt.Errorf("storage: updating room head: %w", err)
	}
	return nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
