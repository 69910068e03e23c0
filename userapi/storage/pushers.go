package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
)

// pusherColumns are userapi_pushers' columns, in scanPusher's order.
const pusherColumns = `localpart, device_id, kind, app_id, pushkey, pushkey_ts,
	app_display_name, device_display_name, profile_tag, lang, data`

func scanPusher(sc sqlutil.Scanner) (api.Pusher, error) {
	var p api.Pusher
	var data string
	err := sc.Scan(&p.Localpart, &p.DeviceID, &p.Kind, &p.AppID, &p.PushKey, &p.PushKeyTS,
		&p.AppDisplayName, &p.DeviceDisplayName, &p.ProfileTag, &p.Lang, &data)
	p.Data = json.RawMessage(data)
	return p, err
}

// Pushers lists a user's pushers, oldest pushkey first.
func (s *Storage) Pushers(ctx context.Context, localpart api.Localpart) ([]api.Pusher, error) {
	ps, err := sqlutil.Select(ctx, s.db, scanPusher, `SELECT `+pusherColumns+` FROM userapi_pushers
		WHERE localpart = $1 ORDER BY pushkey_ts, app_id, pushkey`, localpart)
	if err != nil {
		return nil, fmt.Errorf("storage: listing pushers: %w", err)
	}
	return ps, nil
}

// PushersOf lists the pushers of several users at once (the users an
// event notifies).
func (s *Storage) PushersOf(ctx context.Context, localparts []api.Localpart) ([]api.Pusher, error) {
	ps, err := sqlutil.Select(ctx, s.db, scanPusher, `SELECT `+pusherColumns+` FROM userapi_pushers
		WHERE localpart = ANY($1)`, sqlutil.List(localparts))
	if err != nil {
		return nil, fmt.Errorf("storage: listing pushers: %w", err)
	}
	return ps, nil
}

// UpsertPusher creates or replaces the user's pusher of p's app ID and
// pushkey.
func (s *Storage) UpsertPusher(ctx context.Context, p api.Pusher) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_pushers (`+pusherColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (app_id, pushkey, localpart) DO UPDATE SET
			device_id = EXCLUDED.device_id, kind = EXCLUDED.kind, pushkey_ts = EXCLUDED.pushkey_ts,
			app_display_name = EXCLUDED.app_display_name, device_display_name = EXCLUDED.device_display_name,
			profile_tag = EXCLUDED.profile_tag, lang = EXCLUDED.lang, data = EXCLUDED.data`,
		p.Localpart, p.DeviceID, p.Kind, p.AppID, p.PushKey, p.PushKeyTS,
		p.AppDisplayName, p.DeviceDisplayName, p.ProfileTag, p.Lang, string(p.Data))
	if err != nil {
		return fmt.Errorf("storage: upserting pusher: %w", err)
	}
	return nil
}

// DeletePusher removes one of a user's pushers and reports whether there
// was one.
func (s *Storage) DeletePusher(ctx context.Context, localpart api.Localpart, appID, pushKey string) (bool, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM userapi_pushers WHERE app_id = $1 AND pushkey = $2 AND localpart = $3`,
		appID, pushKey, localpart)
	if err != nil {
		return false, fmt.Errorf("storage: deleting pusher: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// DeleteOtherUsersPushers removes the pushers of app ID and pushkey that
// belong to users other than localpart (POST /pushers/set without append).
func (s *Storage) DeleteOtherUsersPushers(ctx context.Context, localpart api.Localpart, appID, pushKey string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM userapi_pushers WHERE app_id = $1 AND pushkey = $2 AND localpart <> $3`,
		appID, pushKey, localpart)
	if err != nil {
		return fmt.Errorf("storage: deleting other users' pushers: %w", err)
	}
	return nil
}

// PusherLocalparts lists the users who have a pusher.
func (s *Storage) PusherLocalparts(ctx context.Context) ([]api.Localpart, error) {
	ls, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (api.Localpart, error) {
		var l api.Localpart
		err := sc.Scan(&l)
		return l, err
	}, `SELECT DISTINCT localpart FROM userapi_pushers`)
	if err != nil {
		return nil, fmt.Errorf("storage: listing users with pushers: %w", err)
	}
	return ls, nil
}
