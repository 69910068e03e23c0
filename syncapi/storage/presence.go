package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// Presence is one user's stored presence (spec: "m.presence"): what their
// m.presence event says, with the time of their last activity, and the
// presence stream position of its latest change.
type Presence struct {
	UserID   string
	Presence string // online, unavailable or offline
	// StatusMsg is nil when the user has none.
	StatusMsg *string
	// LastActiveTS is when the user was last active (ms since the epoch).
	LastActiveTS    int64
	CurrentlyActive bool
	// Local marks this server's users, whose presence this server decides
	// (the others' is what their servers sent).
	Local bool
	Pos   int64
}

const presenceColumns = `user_id, presence, status_msg, last_active_ts, currently_active, is_local, stream_pos`

func scanPresence(sc sqlutil.Scanner) (Presence, error) {
	var p Presence
	var msg sql.NullString
	var active, local int
	if err := sc.Scan(&p.UserID, &p.Presence, &msg, &p.LastActiveTS, &active, &local, &p.Pos); err != nil {
		return p, err
	}
	if msg.Valid {
		p.StatusMsg = &msg.String
	}
	p.CurrentlyActive, p.Local = active != 0, local != 0
	return p, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SetPresence stores a user's presence at the next presence stream
// position and returns it. Run inside a transaction (WithTx) to publish
// the change with it; the position is taken in the transaction, so
// positions become visible in the order they were taken.
func (s *Storage) SetPresence(ctx context.Context, p Presence) (int64, error) {
	var pos int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if pos, err = s.nextStreamPos(ctx, presenceStream); err != nil {
			return err
		}
		_, err = s.db.Exec(ctx, `INSERT INTO syncapi_presence (`+presenceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (user_id) DO UPDATE SET presence = EXCLUDED.presence, status_msg = EXCLUDED.status_msg,
				last_active_ts = EXCLUDED.last_active_ts, currently_active = EXCLUDED.currently_active,
				is_local = EXCLUDED.is_local, stream_pos = EXCLUDED.stream_pos`,
			p.UserID, p.Presence, p.StatusMsg, p.LastActiveTS, boolInt(p.CurrentlyActive), boolInt(p.Local), pos)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("syncapi storage: setting presence of %s: %w", p.UserID, err)
	}
	return pos, nil
}

// PresenceOf returns the stored presence of those of userIDs that have one.
func (s *Storage) PresenceOf(ctx context.Context, userIDs []string) ([]Presence, error) {
	out, err := sqlutil.Select(ctx, s.db, scanPresence, `SELECT `+presenceColumns+` FROM syncapi_presence
		WHERE user_id = ANY($1)`, sqlutil.List(userIDs))
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading presence: %w", err)
	}
	return out, nil
}

// PresenceSince returns the presence of every user changed at a position
// in (since, upto], oldest change first.
func (s *Storage) PresenceSince(ctx context.Context, since, upto int64) ([]Presence, error) {
	out, err := sqlutil.Select(ctx, s.db, scanPresence, `SELECT `+presenceColumns+` FROM syncapi_presence
		WHERE stream_pos > $1 AND stream_pos <= $2 ORDER BY stream_pos`, since, upto)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading presence changes: %w", err)
	}
	return out, nil
}

// PresentUsers returns the presence of every user who is not offline.
func (s *Storage) PresentUsers(ctx context.Context) ([]Presence, error) {
	out, err := sqlutil.Select(ctx, s.db, scanPresence, `SELECT `+presenceColumns+` FROM syncapi_presence
		WHERE presence <> 'offline'`)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading presence: %w", err)
	}
	return out, nil
}

// LocalPresence returns the presence of this server's users who are not
// offline (to resume their timers at start-up).
func (s *Storage) LocalPresence(ctx context.Context) ([]Presence, error) {
	out, err := sqlutil.Select(ctx, s.db, scanPresence, `SELECT `+presenceColumns+` FROM syncapi_presence
		WHERE is_local = 1 AND presence <> 'offline'`)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading local presence: %w", err)
	}
	return out, nil
}

// PresencePos is the presence stream's latest position (0: none).
func (s *Storage) PresencePos(ctx context.Context) (int64, error) {
	return s.streamPos(ctx, presenceStream)
}
