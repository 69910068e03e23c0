package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// PurgeBounds choose the message events a purge may take: sent before
// BeforeTS and below BeforeDepth (0: no bound), never state events,
// rejected ones or those already purged.
type PurgeBounds struct {
	BeforeTS    int64
	BeforeDepth int64
}

// PurgeCandidate is a message event a purge may strip.
type PurgeCandidate struct {
	NID    EventNID
	ID     string
	Sender string
	JSON   []byte
}

// PurgeCandidates returns up to limit of a room's message events within b
// with a NID above after, in NID order (a purge pages through them).
func (s *Storage) PurgeCandidates(ctx context.Context, room RoomNID, b PurgeBounds, after EventNID, limit int) ([]PurgeCandidate, error) {
	ts, depth := b.BeforeTS, b.BeforeDepth
	if ts <= 0 {
		ts = math.MaxInt64
	}
	if depth <= 0 {
		depth = math.MaxInt64
	}
	out, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (PurgeCandidate, error) {
		var c PurgeCandidate
		var js string
		err := sc.Scan(&c.NID, &c.ID, &c.Sender, &js)
		c.JSON = []byte(js)
		return c, err
	}, `SELECT event_nid, event_id, sender, event_json FROM roomserver_events
		WHERE room_nid = $1 AND state_key IS NULL AND purged = FALSE AND rejected = FALSE
		AND origin_server_ts < $2 AND depth < $3 AND event_nid > $4
		ORDER BY event_nid LIMIT $5`, room, ts, depth, after, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: reading events to purge: %w", err)
	}
	return out, nil
}

// MarkPurged replaces a purged event's JSON with its redacted form.
func (s *Storage) MarkPurged(ctx context.Context, nid EventNID, redactedJSON []byte) error {
	_, err := s.db.Exec(ctx, `UPDATE roomserver_events SET event_json = $2, purged = TRUE WHERE event_nid = $1`,
		nid, string(redactedJSON))
	if err != nil {
		return fmt.Errorf("storage: purging event %d: %w", nid, err)
	}
	return nil
}

// RoomIDs lists every room this server knows.
func (s *Storage) RoomIDs(ctx context.Context) ([]string, error) {
	ids, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, `SELECT room_id FROM roomserver_rooms ORDER BY room_nid`)
	if err != nil {
		return nil, fmt.Errorf("storage: listing rooms: %w", err)
	}
	return ids, nil
}

// LegalHold is a room's legal hold row.
type LegalHold struct {
	RoomID, Reason, By string
	Since              int64
}

// LegalHold reads a room's hold; ErrNotFound if it has none.
func (s *Storage) LegalHold(ctx context.Context, roomID string) (*LegalHold, error) {
	h := LegalHold{RoomID: roomID}
	err := s.db.QueryRow(ctx, `SELECT reason, held_by, since_ts FROM roomserver_legal_holds WHERE room_id = $1`, roomID).
		Scan(&h.Reason, &h.By, &h.Since)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading legal hold: %w", err)
	}
	return &h, nil
}

// PutLegalHold places a hold, or replaces the reason of one in place (its
// author and time stay those of the first placing); it returns the row.
func (s *Storage) PutLegalHold(ctx context.Context, h LegalHold) (LegalHold, error) {
	err := s.db.QueryRowWrite(ctx, `INSERT INTO roomserver_legal_holds (room_id, reason, held_by, since_ts)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (room_id) DO UPDATE SET reason = EXCLUDED.reason
		RETURNING reason, held_by, since_ts`, h.RoomID, h.Reason, h.By, h.Since).Scan(&h.Reason, &h.By, &h.Since)
	if err != nil {
		return h, fmt.Errorf("storage: placing legal hold: %w", err)
	}
	return h, nil
}

// DeleteLegalHold releases a hold; false if there was none.
func (s *Storage) DeleteLegalHold(ctx context.Context, roomID string) (bool, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM roomserver_legal_holds WHERE room_id = $1`, roomID)
	if err != nil {
		return false, fmt.Errorf("storage: releasing legal hold: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Purge is a purge's row.
type Purge struct {
	ID, RoomID, Status, Error string
	Purged                    int64
}

// InsertPurge records a purge that starts now.
func (s *Storage) InsertPurge(ctx context.Context, p Purge, nowMs int64) error {
	_, err := s.db.Exec(ctx, `INSERT INTO roomserver_purges (purge_id, room_id, status, created_ts, updated_ts)
		VALUES ($1, $2, $3, $4, $4)`, p.ID, p.RoomID, p.Status, nowMs)
	if err != nil {
		return fmt.Errorf("storage: recording purge: %w", err)
	}
	return nil
}

// UpdatePurge records a purge's progress.
func (s *Storage) UpdatePurge(ctx context.Context, p Purge, nowMs int64) error {
	_, err := s.db.Exec(ctx, `UPDATE roomserver_purges SET status = $2, purged = $3, error = $4, updated_ts = $5
		WHERE purge_id = $1`, p.ID, p.Status, p.Purged, p.Error, nowMs)
	if err != nil {
		return fmt.Errorf("storage: updating purge: %w", err)
	}
	return nil
}

// PurgeByID reads a purge; ErrNotFound if unknown.
func (s *Storage) PurgeByID(ctx context.Context, id string) (*Purge, error) {
	p := Purge{ID: id}
	err := s.db.QueryRow(ctx, `SELECT room_id, status, purged, error FROM roomserver_purges WHERE purge_id = $1`, id).
		Scan(&p.RoomID, &p.Status, &p.Purged, &p.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading purge: %w", err)
	}
	return &p, nil
}

// FailPurges marks every purge still active as failed with reason: at
// start-up, those a stopped process left unfinished.
func (s *Storage) FailPurges(ctx context.Context, reason string, nowMs int64) error {
	_, err := s.db.Exec(ctx, `UPDATE roomserver_purges SET status = 'failed', error = $1, updated_ts = $2
		WHERE status = 'active'`, reason, nowMs)
	if err != nil {
		return fmt.Errorf("storage: failing interrupted purges: %w", err)
	}
	return nil
}
