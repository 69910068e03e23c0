package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// IgnoredUserListType is the account data type listing the users a user
// ignores (spec: "Ignoring Users", m.ignored_user_list).
const IgnoredUserListType = "m.ignored_user_list"

// IgnoredUsers reads the users a local user ignores (none when the account
// data is unset or unreadable).
func IgnoredUsers(ctx context.Context, ad AccountData, lp Localpart) (map[string]bool, error) {
	raw, err := ad.AccountData(ctx, lp, "", IgnoredUserListType)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", IgnoredUserListType, err)
	}
	var c struct {
		IgnoredUsers map[string]json.RawMessage `json:"ignored_users"`
	}
	_ = json.Unmarshal(raw, &c)
	out := make(map[string]bool, len(c.IgnoredUsers))
	for u := range c.IgnoredUsers {
		out[u] = true
	}
	return out, nil
}
