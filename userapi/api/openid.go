package api

import "context"

// OpenIDTokenLifetime is how long an OpenID token is good for (spec:
// POST /user/{userId}/openid/request_token, expires_in 3600 in its example;
// Synapse and Dendrite hand out one hour).
const OpenIDTokenLifetime = 3600 // seconds

// OpenIDToken is what POST /openid/request_token hands the client.
type OpenIDToken struct {
	AccessToken string
	ExpiresIn   int64 // seconds
}

// OpenID is the OpenID token surface (spec: client-server "OpenID",
// server-server "OpenID"): a token a user gives another service, which
// that service exchanges for the user's ID at the federation API.
type OpenID interface {
	// CreateOpenIDToken makes a token for a local user, stored durably
	// before it is returned.
	CreateOpenIDToken(ctx context.Context, localpart Localpart) (OpenIDToken, error)
	// OpenIDUserInfo returns the user ID of a token's owner;
	// ErrUnknownToken for a token that is unknown, expired or whose owner
	// was deactivated.
	OpenIDUserInfo(ctx context.Context, token string) (string, error)
}
