package storage

import (
	"context"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// CreateSnapshot stores the state that results from applying changes to the
// state of parent (0: the empty state) and returns its ID.
func (s *Storage) CreateSnapshot(ctx context.Context, room RoomNID, parent SnapshotNID, changes []StateEntry) (SnapshotNID, error) {
	var nid SnapshotNID
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		chain := 0
		if parent != 0 {
			err := s.db.QueryRow(ctx, `SELECT chain_len FROM roomserver_snapshots WHERE snapshot_nid = $1`, parent).Scan(&chain)
			if err != nil {
				return fmt.Errorf("reading parent snapshot %d: %w", parent, err)
			}
			chain++
		}
		entries := changes
		if parent != 0 && chain >= maxChain {
			// Write this one whole, so chains stay short.
			full, err := s.StateAt(ctx, parent)
			if err != nil {
				return err
			}
			entries = applyChanges(full, changes)
			parent, chain = 0, 0
		}
		if err := s.db.QueryRowWrite(ctx, `INSERT INTO roomserver_snapshots (room_nid, parent_nid, chain_len)
			VALUES ($1, $2, $3) RETURNING snapshot_nid`,
			room, parent, chain).Scan(&nid); err != nil {
			return err
		}
		for _, e := range entries {
			if _, err := s.db.Exec(ctx, `INSERT INTO roomserver_snapshot_entries (snapshot_nid, event_type, state_key, event_nid)
				VALUES ($1, $2, $3, $4)
				ON CONFLICT (snapshot_nid, event_type, state_key) DO UPDATE SET event_nid = EXCLUDED.event_nid`,
				nid, e.Type, e.StateKey.StateKey, e.EventNID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: creating snapshot: %w", err)
	}
	return nid, nil
}

// applyChanges returns state with changes applied (later entries win).
func applyChanges(state, changes []StateEntry) []StateEntry {
	m := make(map[StateKey]EventNID, len(state)+len(changes))
	order := make([]StateKey, 0, len(state)+len(changes))
	for _, list := range [][]StateEntry{state, changes} {
		for _, e := range list {
			if _, ok := m[e.StateKey]; !ok {
				order = append(order, e.StateKey)
			}
			m[e.StateKey] = e.EventNID
		}
	}
	out := make([]StateEntry, len(order))
	for i, k := range order {
		out[i] = StateEntry{StateKey: k, EventNID: m[k]}
	}
	return out
}

// StateAt returns the whole state of a snapshot (0: empty).
func (s *Storage) StateAt(ctx context.Context, snapshot SnapshotNID) ([]StateEntry, error) {
	// Walk to the whole snapshot at the root of the chain, then apply the
	// deltas from the root down.
	var chain []SnapshotNID
	for cur := snapshot; cur != 0; {
		chain = append(chain, cur)
		var parent SnapshotNID
		if err := s.db.QueryRow(ctx, `SELECT parent_nid FROM roomserver_snapshots WHERE snapshot_nid = $1`, cur).Scan(&parent); err != nil {
			return nil, fmt.Errorf("storage: reading snapshot %d: %w", cur, err)
		}
		if len(chain) > maxChain+1 {
			return nil, fmt.Errorf("storage: snapshot chain of %d is longer than %d", snapshot, maxChain)
		}
		cur = parent
	}
	if len(chain) == 0 {
		return nil, nil
	}
	entries, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (snapEntry, error) {
		var e snapEntry
		return e, sc.Scan(&e.snapshot, &e.Type, &e.StateKey.StateKey, &e.EventNID)
	}, `SELECT snapshot_nid, event_type, state_key, event_nid FROM roomserver_snapshot_entries
		WHERE snapshot_nid = ANY($1)`, sqlutil.List(chain))
	if err != nil {
		return nil, fmt.Errorf("storage: reading snapshot entries: %w", err)
	}
	bySnap := make(map[SnapshotNID][]StateEntry, len(chain))
	for _, e := range entries {
		bySnap[e.snapshot] = append(bySnap[e.snapshot], e.StateEntry)
	}
	var state []StateEntry
	for i := len(chain) - 1; i >= 0; i-- {
		state = applyChanges(state, bySnap[chain[i]])
	}
	return state, nil
}

type snapEntry struct {
	snapshot SnapshotNID
	StateEntry
}

// SetMembership records a user's current membership of a room. A join
// clears an earlier forget; any membership clears one recorded outside the
// room's state (see SetOutsideMembership).
func (s *Storage) SetMembership(ctx context.Context, room RoomNID, userID, membership string, event EventNID) error {
	_, err := s.db.Exec(ctx, `INSERT INTO roomserver_memberships (room_nid, user_id, membership, event_nid, forgotten)
		VALUES ($1, $2, $3, $4, FALSE)
		ON CONFLICT (room_nid, user_id) DO UPDATE SET membership = EXCLUDED.membership, event_nid = EXCLUDED.event_nid, forgotten = FALSE`,
		room, userID, membership, event)
	if err != nil {
		return fmt.Errorf("storage: setting membership: %w", err)
	}
	return s.clearOutsideMembership(ctx, room, userID)
}

// Membership returns a user's current membership of a room ("leave" and 0
// when the user never had one).
func (s *Storage) Membership(ctx context.Context, room RoomNID, userID string) (string, EventNID, error) {
	var m string
	var nid EventNID
	err := s.db.QueryRow(ctx, `SELECT membership, event_nid FROM roomserver_memberships WHERE room_nid = $1 AND user_id = $2`,
		room, userID).Scan(&m, &nid)
	if err != nil {
		if isNoRows(err) {
			return "leave", 0, nil
		}
		return "", 0, fmt.Errorf("storage: reading membership: %w", err)
	}
	return m, nid, nil
}

// RoomsOf lists the rooms in which a user has the given membership (and has
// not forgotten).
func (s *Storage) RoomsOf(ctx context.Context, userID, membership string) ([]string, error) {
	return sqlutil.Select(ctx, s.db, scanString, `SELECT r.room_id
		FROM roomserver_memberships m JOIN roomserver_rooms r ON r.room_nid = m.room_nid
		WHERE m.user_id = $1 AND m.membership = $2 AND NOT m.forgotten ORDER BY r.room_nid`, userID, membership)
}

// MembersOf lists the users with the given membership of a room.
func (s *Storage) MembersOf(ctx context.Context, room RoomNID, membership string) ([]string, error) {
	return sqlutil.Select(ctx, s.db, scanString,
		`SELECT user_id FROM roomserver_memberships WHERE room_nid = $1 AND membership = $2 ORDER BY user_id`, room, membership)
}

// Forgotten reports whether the user has forgotten the room.
func (s *Storage) Forgotten(ctx context.Context, roomID, userID string) (bool, error) {
	var f bool
	err := s.db.QueryRow(ctx, `SELECT m.forgotten FROM roomserver_memberships m JOIN roomserver_rooms r ON r.room_nid = m.room_nid
		WHERE r.room_id = $1 AND m.user_id = $2`, roomID, userID).Scan(&f)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: reading forgotten: %w", err)
	}
	return f, nil
}

// Forget hides a room the user has left from their room lists.
func (s *Storage) Forget(ctx context.Context, room RoomNID, userID string) error {
	_, err := s.db.Exec(ctx, `UPDATE roomserver_memberships SET forgotten = TRUE
		WHERE room_nid = $1 AND user_id = $2 AND membership IN ('leave', 'ban')`, room, userID)
	return err
}

func scanString(sc sqlutil.Scanner) (string, error) {
	var s string
	return s, sc.Scan(&s)
}
