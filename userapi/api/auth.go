package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
)

// AccessToken extracts the access token of a request (spec: "Using access
// tokens"): the Authorization header's Bearer token, or the deprecated
// access_token query parameter. ok is false when neither is present.
func AccessToken(r *http.Request) (token string, ok bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, found := strings.Cut(h, " ")
		if found && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(tok) != "" {
			return strings.TrimSpace(tok), true
		}
		return "", false
	}
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t, true
	}
	return "", false
}

// Authenticate resolves a request's access token to its device, with the
// spec's errors (client authentication): no token is 401 M_MISSING_TOKEN,
// an unknown one 401 M_UNKNOWN_TOKEN, an expired one the same with
// soft_logout. Every component serving client requests uses it.
func Authenticate(ctx context.Context, r *http.Request, s Sessions) (*Device, string, error) {
	tok, ok := AccessToken(r)
	if !ok {
		return nil, "", httputil.MissingToken("Missing access token")
	}
	dev, err := s.QueryAccessToken(ctx, tok)
	switch {
	case errors.Is(err, ErrUnknownToken):
		return nil, "", httputil.UnknownToken("Unknown access token").With("soft_logout", false)
	case errors.Is(err, ErrTokenExpired):
		return nil, "", httputil.UnknownToken("Access token has expired").With("soft_logout", true)
	case err != nil:
		return nil, "", err
	}
	return dev, tok, nil
}
