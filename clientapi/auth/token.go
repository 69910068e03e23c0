// Package auth turns requests into authenticated devices: access tokens from
// the Authorization header or the access_token query parameter, and the
// user-interactive authentication (UIA) sessions of the spec.
package auth

import (
	"net/http"
	"strings"
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
