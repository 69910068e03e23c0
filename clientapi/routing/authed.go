package routing

import (
	"context"
	"net/http"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// authedHandler is a handler for a request made with a valid access token.
type authedHandler func(w http.ResponseWriter, r *http.Request, dev *api.Device) error

// authed resolves the access token to a device before running h (spec:
// "Client authentication"): no token is 401 M_MISSING_TOKEN, an unknown one
// 401 M_UNKNOWN_TOKEN, an expired one the same with soft_logout.
// A locked account's requests get 401 M_USER_LOCKED (spec: "Account
// locking").
func (rt *Routes) authed(h authedHandler) httputil.Handler {
	return rt.authedWith(api.Authenticate, h)
}

// authedEvenLocked is authed for POST /logout and /logout/all, which a
// locked account may still call (spec: "Account locking").
func (rt *Routes) authedEvenLocked(h authedHandler) httputil.Handler {
	return rt.authedWith(api.AuthenticateEvenLocked, h)
}

type authenticator func(ctx context.Context, s api.Sessions, token string) (*api.Device, error)

func (rt *Routes) authedWith(authenticate authenticator, h authedHandler) httputil.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok := httputil.AccessToken(r)
		dev, err := authenticate(r.Context(), rt.users, tok)
		if err != nil {
			return err
		}
		if rt.rateLimited(tok, dev) {
			if ok, wait := rt.requests.Allow(tok); !ok {
				return httputil.LimitExceeded(wait.Milliseconds() + 1)
			}
		}
		log := httputil.Logger(r.Context()).WithFields(logrus.Fields{httputil.FieldUserID: dev.UserID, httputil.FieldDeviceID: dev.ID})
		r = r.WithContext(httputil.WithLogger(r.Context(), log))
		rt.users.TouchDevice(r.Context(), dev, httputil.ClientIP(r), r.UserAgent())
		return h(w, r, dev)
	}
}
