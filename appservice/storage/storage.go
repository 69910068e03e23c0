// Package storage keeps the application services' own data: the rooms each
// has published in the directories of its third-party networks. Its tables
// have their own migrations (appservice_*), apart from every other
// component's.
package storage

import (
	"context"
	"embed"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the application services' tables on a database.
type Store struct {
	db *sqlutil.DB
}

// New migrates the tables in db and returns the store; db stays the
// caller's.
func New(ctx context.Context, db *sqlutil.DB) (*Store, error) {
	if err := sqlutil.MigrateDir(ctx, db, "appservice", migrations, "migrations"); err != nil {
		return nil, fmt.Errorf("appservice storage: %w", err)
	}
	return &Store{db: db}, nil
}

// NetworkRoom is a room published in a network's directory.
type NetworkRoom struct {
	AppServiceID string
	NetworkID    string
	RoomID       string
}

// SetPublished publishes roomID in the directory of the service's network,
// or withdraws it. Both are idempotent.
func (s *Store) SetPublished(ctx context.Context, r NetworkRoom, published bool) error {
	q := `DELETE FROM appservice_network_rooms WHERE appservice_id = $1 AND network_id = $2 AND room_id = $3`
	if published {
		q = `INSERT INTO appservice_network_rooms (appservice_id, network_id, room_id) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`
	}
	if _, err := s.db.Exec(ctx, q, r.AppServiceID, r.NetworkID, r.RoomID); err != nil {
		return fmt.Errorf("appservice storage: publishing %s: %w", r.RoomID, err)
	}
	return nil
}

// Rooms lists the published rooms, of one network of one service when
// appServiceID and networkID are set, of every network otherwise, ordered
// by room ID (a room in several networks once).
func (s *Store) Rooms(ctx context.Context, appServiceID, networkID string) ([]string, error) {
	scan := func(sc sqlutil.Scanner) (string, error) {
		var id string
		err := sc.Scan(&id)
		return id, err
	}
	var rooms []string
	var err error
	if appServiceID == "" && networkID == "" {
		rooms, err = sqlutil.Select(ctx, s.db, scan, `SELECT DISTINCT room_id FROM appservice_network_rooms ORDER BY room_id`)
	} else {
		rooms, err = sqlutil.Select(ctx, s.db, scan, `SELECT room_id FROM appservice_network_rooms
			WHERE appservice_id = $1 AND network_id = $2 ORDER BY room_id`, appServiceID, networkID)
	}
	if err != nil {
		return nil, fmt.Errorf("appservice storage: listing network rooms: %w", err)
	}
	return rooms, nil
}

// SenderSince returns when the sender of a service first ran, recording
// nowMS on its first call for that service.
func (s *Store) SenderSince(ctx context.Context, appServiceID string, nowMS int64) (int64, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO appservice_senders (appservice_id, since_ms) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`, appServiceID, nowMS); err != nil {
		return 0, fmt.Errorf("appservice storage: recording the sender of %s: %w", appServiceID, err)
	}
	var since int64
	if err := s.db.QueryRowWrite(ctx, `SELECT since_ms FROM appservice_senders WHERE appservice_id = $1`,
		appServiceID).Scan(&since); err != nil {
		return 0, fmt.Errorf("appservice storage: reading the sender of %s: %w", appServiceID, err)
	}
	return since, nil
}
