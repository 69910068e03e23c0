package routing

import (
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
func (rt *Routes) authed(h authedHandler) httputil.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok := httputil.AccessToken(r)
		dev, err := api.Authenticate(r.Context(), rt.users, tok)
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
