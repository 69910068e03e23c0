package federationapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// remoteProfileTTL is how long a remote profile is reused before it is
// asked for again.
const remoteProfileTTL = 5 * time.Minute

// RemoteProfile returns the profile of a user of another server (spec:
// GET /_matrix/federation/v1/query/profile), cached for a few minutes in
// Options.Cache (if any). The server's refusal is a *fedapi.RemoteError
// (its 404 is fedapi.ErrRemoteNotFound).
func (f *FederationAPI) RemoteProfile(ctx context.Context, userID string) (map[string]json.RawMessage, error) {
	c := f.opts.Cache
	uid, err := spec.NewUserID(userID, true)
	if err != nil {
		return nil, fmt.Errorf("federationapi: %q: %w", userID, err)
	}
	key := "fed:profile:" + uid.String()
	if c != nil {
		if b, ok, err := c.Get(ctx, key); err == nil && ok {
			var p map[string]json.RawMessage
			if json.Unmarshal(b, &p) == nil {
				return p, nil
			}
		}
	}
	var p map[string]json.RawMessage
	path := "/_matrix/federation/v1/query/profile?user_id=" + url.QueryEscape(uid.String())
	if err := f.ask(ctx, http.MethodGet, uid.Domain(), path, nil, &p); err != nil {
		return nil, fmt.Errorf("federationapi: profile of %s: %w", uid.String(), err)
	}
	if p == nil {
		p = map[string]json.RawMessage{}
	}
	if c != nil {
		if b, err := json.Marshal(p); err == nil {
			_ = c.Set(ctx, key, b, remoteProfileTTL)
		}
	}
	return p, nil
}
