package internal

import (
	"context"
	"time"

	"github.com/myelin-im/myelin/userapi/api"
)

var _ api.OpenID = (*UserAPI)(nil)

// CreateOpenIDToken implements api.OpenID. The token is 32 random bytes,
// stored as its SHA-256 like an access token; it is not an access token and
// authenticates nothing but GET /openid/userinfo.
func (u *UserAPI) CreateOpenIDToken(ctx context.Context, localpart api.Localpart) (api.OpenIDToken, error) {
	tok, err := newToken("myo_")
	if err != nil {
		return api.OpenIDToken{}, err
	}
	now := u.nowMs()
	expires := now + (api.OpenIDTokenLifetime * time.Second).Milliseconds()
	if err := u.store.InsertOpenIDToken(ctx, HashToken(tok), localpart, now, expires); err != nil {
		return api.OpenIDToken{}, err
	}
	return api.OpenIDToken{AccessToken: tok, ExpiresIn: api.OpenIDTokenLifetime}, nil
}

// OpenIDUserInfo implements api.OpenID.
func (u *UserAPI) OpenIDUserInfo(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", api.ErrUnknownToken
	}
	l, err := u.store.OpenIDToken(ctx, HashToken(token), u.nowMs())
	if err != nil {
		return "", err
	}
	return u.userID(l), nil
}
