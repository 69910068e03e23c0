package routing

import (
	"encoding/json"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// POST /v3/user/{userId}/openid/request_token (spec: client-server
// "OpenID"). Only for oneself: the token vouches for its owner's identity to
// another service. The body is an empty object reserved for future use;
// anything but a JSON object is refused.
func (rt *Routes) requestOpenIDToken(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	userID := httputil.Vars(r)["userId"]
	if _, _, err := rt.localUser(userID); err != nil {
		return err
	}
	if userID != dev.UserID {
		return httputil.Forbidden("Cannot request OpenID tokens for other users")
	}
	var body map[string]json.RawMessage
	if err := httputil.ReadJSON(r, &body); err != nil {
		return err
	}
	tok, err := rt.users.CreateOpenIDToken(r.Context(), dev.Localpart)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token":       tok.AccessToken,
		"token_type":         "Bearer",
		"matrix_server_name": rt.opts.ServerName,
		"expires_in":         tok.ExpiresIn,
	})
	return nil
}
