package federationapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/matrix-org/gomatrix"
	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
)

// remoteProfileTTL is how long a remote profile is reused before it is
// asked for again.
const remoteProfileTTL = 5 * time.Minute

// RemoteProfile returns the profile of a user of another server (spec:
// GET /_matrix/federation/v1/query/profile), cached for a few minutes in
// Options.Cache (if any).
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
	req := fclient.NewFederationRequest(http.MethodGet, f.name, uid.Domain(),
		"/_matrix/federation/v1/query/profile?user_id="+url.QueryEscape(uid.String()))
	if err := req.Sign(f.name, gomatrixserverlib.KeyID(f.opts.Key.ID), f.opts.Key.Private); err != nil {
		return nil, err
	}
	hr, err := req.HTTPRequest()
	if err != nil {
		return nil, err
	}
	var p map[string]json.RawMessage
	if err := f.Client.DoRequestAndParseResponse(ctx, hr, &p); err != nil {
		var he gomatrix.HTTPError
		if errors.As(err, &he) && he.Code == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %s", fedapi.ErrRemoteNotFound, uid.String())
		}
		return nil, fmt.Errorf("%w: %s: %w", fedapi.ErrRemoteUnavailable, uid.Domain(), err)
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
