package httputil

import (
	"net/http"
	"strings"
)

// AccessToken extracts the access token of a client request (spec: "Using
// access tokens"): the Authorization header's Bearer token, or the
// deprecated access_token query parameter. It is "" when neither is there
// (an Authorization header of another scheme counts as none).
func AccessToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, found := strings.Cut(h, " ")
		if found && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	return r.URL.Query().Get("access_token")
}
