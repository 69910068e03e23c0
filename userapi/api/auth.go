package api

import "context"

// Authenticate resolves a client's access token (httputil.AccessToken; ""
// when the request had none) to its device, with the spec's errors (client
// authentication): no token is ErrMissingToken (401 M_MISSING_TOKEN), an
// unknown one ErrUnknownToken, an expired one ErrTokenExpired (both 401
// M_UNKNOWN_TOKEN, the second with soft_logout), a locked account's
// ErrUserLocked (spec: "Account locking"). Every component serving client
// requests uses it.
func Authenticate(ctx context.Context, s Sessions, token string) (*Device, error) {
	dev, err := AuthenticateEvenLocked(ctx, s, token)
	if err != nil {
		return nil, err
	}
	if dev.Locked {
		return nil, ErrUserLocked
	}
	return dev, nil
}

// AuthenticateEvenLocked is Authenticate for the only requests a locked
// account may make (spec: "Account locking"): POST /logout and /logout/all.
func AuthenticateEvenLocked(ctx context.Context, s Sessions, token string) (*Device, error) {
	if token == "" {
		return nil, ErrMissingToken
	}
	return s.QueryAccessToken(ctx, token)
}
