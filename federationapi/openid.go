package federationapi

import (
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// GET /_matrix/federation/v1/openid/userinfo?access_token= (spec:
// server-server "OpenID"). Called by services a user gave an OpenID token
// (integration managers, widgets), not by servers: no request signature.
// Any token that does not name a user — missing, unknown, expired — is
// 401 M_UNKNOWN_TOKEN.
func (f *FederationAPI) openIDUserInfo(w http.ResponseWriter, r *http.Request) error {
	if f.opts.OpenID == nil {
		return httputil.UnknownToken("Access token unknown or expired")
	}
	userID, err := f.opts.OpenID.OpenIDUserInfo(r.Context(), r.URL.Query().Get("access_token"))
	if errors.Is(err, userapi.ErrUnknownToken) {
		return httputil.UnknownToken("Access token unknown or expired")
	}
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"sub": userID})
	return nil
}
