package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
)

// ProfileFieldsOf returns the given profile fields of many users in one
// query (users without any of them are absent from the map).
func (s *Storage) ProfileFieldsOf(
	ctx context.Context, localparts []api.Localpart, fields []string,
) (map[api.Localpart]map[string]json.RawMessage, error) {
	type row struct {
		lp   api.Localpart
		k, v string
	}
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.lp, &r.k, &r.v)
	}, `SELECT localpart, field, value FROM userapi_profile_fields WHERE localpart = ANY($1) AND field = ANY($2)`,
		sqlutil.List(localparts), sqlutil.List(fields))
	if err != nil {
		return nil, fmt.Errorf("storage: reading profiles: %w", err)
	}
	out := map[api.Localpart]map[string]json.RawMessage{}
	for _, r := range rows {
		if out[r.lp] == nil {
			out[r.lp] = map[string]json.RawMessage{}
		}
		out[r.lp][r.k] = json.RawMessage(r.v)
	}
	return out, nil
}
