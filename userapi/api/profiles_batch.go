package api

import (
	"context"
	"encoding/json"
)

// ProfilesBatch reads the profiles of many local users at once (a friends
// list), so a list costs one query, not one per user.
type ProfilesBatch interface {
	// ProfileFieldsOf returns the given fields of each user's profile;
	// users with none of them are absent.
	ProfileFieldsOf(ctx context.Context, localparts []Localpart, fields []string) (map[Localpart]map[string]json.RawMessage, error)
}
