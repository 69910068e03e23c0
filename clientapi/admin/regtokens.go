package admin

import (
	"crypto/rand"
	"encoding/json"
	"math/big"
	"net/http"
	"regexp"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// setupRegistrationTokens registers Synapse's registration token routes
// over the tokens `myelin create-registration-token` makes and
// registration consumes (spec: m.login.registration_token).
func (a *Admin) setupRegistrationTokens(p prefixed) {
	p.Handle("/v1/registration_tokens", a.admin(a.listRegTokens)).Methods(http.MethodGet)
	p.Handle("/v1/registration_tokens/new", a.admin(a.newRegToken)).Methods(http.MethodPost)
	p.Handle("/v1/registration_tokens/{token}", a.admin(a.getRegToken)).Methods(http.MethodGet)
	p.Handle("/v1/registration_tokens/{token}", a.admin(a.putRegToken)).Methods(http.MethodPut)
	p.Handle("/v1/registration_tokens/{token}", a.admin(a.deleteRegToken)).Methods(http.MethodDelete)
}

// regTokenJSON is Synapse's registration token object.
type regTokenJSON struct {
	Token       string `json:"token"`
	UsesAllowed *int64 `json:"uses_allowed"`
	Pending     int64  `json:"pending"`
	Completed   int64  `json:"completed"`
	ExpiryTime  *int64 `json:"expiry_time"`
}

func toRegTokenJSON(t userapi.RegistrationToken) regTokenJSON {
	return regTokenJSON{t.Token, t.UsesAllowed, t.Pending, t.Completed, t.ExpiryTS}
}

// GET /_synapse/admin/v1/registration_tokens?valid=true|false
func (a *Admin) listRegTokens(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	valid, err := boolParam(r.URL.Query(), "valid")
	if err != nil {
		return err
	}
	ts, err := a.d.Users.RegistrationTokens(r.Context(), valid)
	if err != nil {
		return err
	}
	out := make([]regTokenJSON, len(ts))
	for i, t := range ts {
		out[i] = toRegTokenJSON(t)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"registration_tokens": out})
	return nil
}

// errNoToken answers a token that does not exist.
func errNoToken(token string) error {
	return httputil.NotFound("No such registration token: %s", token)
}

// GET /_synapse/admin/v1/registration_tokens/{token}
func (a *Admin) getRegToken(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	token := httputil.Vars(r)["token"]
	t, err := a.d.Users.RegistrationToken(r.Context(), token)
	if err != nil {
		return notFoundAs(err, errNoToken(token))
	}
	httputil.WriteJSON(w, http.StatusOK, toRegTokenJSON(*t))
	return nil
}

// tokenChars are the characters Synapse allows in a registration token.
const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,64}$`)

// POST /_synapse/admin/v1/registration_tokens/new
// {"token", "length" (default 16), "uses_allowed", "expiry_time"}
func (a *Admin) newRegToken(w http.ResponseWriter, r *http.Request, c *Caller) error {
	var req struct {
		Token       *string `json:"token"`
		Length      *int    `json:"length"`
		UsesAllowed *int64  `json:"uses_allowed"`
		ExpiryTime  *int64  `json:"expiry_time"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if err := checkTokenLimits(req.UsesAllowed, req.ExpiryTime); err != nil {
		return err
	}
	t := userapi.RegistrationToken{UsesAllowed: req.UsesAllowed, ExpiryTS: req.ExpiryTime}
	switch {
	case req.Token != nil && !tokenPattern.MatchString(*req.Token):
		return httputil.InvalidParam("token must be 1 to 64 characters of [A-Za-z0-9._~-]")
	case req.Token != nil:
		t.Token = *req.Token
	case req.Length != nil && (*req.Length < 1 || *req.Length > 64):
		return httputil.InvalidParam("length must be an integer between 1 and 64")
	default:
		n := 16
		if req.Length != nil {
			n = *req.Length
		}
		var err error
		if t.Token, err = randomToken(n); err != nil {
			return err
		}
	}
	if err := a.d.Users.AddRegistrationToken(r.Context(), t); err != nil {
		return err
	}
	c.Note("token " + t.Token)
	httputil.WriteJSON(w, http.StatusOK, toRegTokenJSON(t))
	return nil
}

// checkTokenLimits applies Synapse's checks (400 M_INVALID_PARAM):
// uses_allowed not negative, expiry_time not in the past.
func checkTokenLimits(uses, expiry *int64) error {
	if uses != nil && *uses < 0 {
		return httputil.InvalidParam("uses_allowed must be a non-negative integer or null")
	}
	if expiry != nil && *expiry < time.Now().UnixMilli() {
		return httputil.InvalidParam("expiry_time must not be in the past")
	}
	return nil
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(tokenChars)))
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = tokenChars[k.Int64()]
	}
	return string(b), nil
}

// PUT /_synapse/admin/v1/registration_tokens/{token}
// {"uses_allowed", "expiry_time"}: an omitted field is kept, null clears it.
func (a *Admin) putRegToken(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	token := httputil.Vars(r)["token"]
	var raw map[string]json.RawMessage
	if err := httputil.ReadJSON(r, &raw); err != nil {
		return err
	}
	var upd userapi.RegistrationTokenUpdate
	for key, dst := range map[string]struct {
		v     **int64
		clear *bool
	}{"uses_allowed": {&upd.UsesAllowed, &upd.ClearUsesAllowed}, "expiry_time": {&upd.ExpiryTS, &upd.ClearExpiryTS}} {
		v, ok := raw[key]
		if !ok {
			continue
		}
		if string(v) == "null" {
			*dst.clear = true
			continue
		}
		var n int64
		if err := json.Unmarshal(v, &n); err != nil {
			return httputil.InvalidParam("%s must be an integer or null", key)
		}
		*dst.v = &n
	}
	if err := checkTokenLimits(upd.UsesAllowed, upd.ExpiryTS); err != nil {
		return err
	}
	t, err := a.d.Users.UpdateRegistrationToken(r.Context(), token, upd)
	if err != nil {
		return notFoundAs(err, errNoToken(token))
	}
	httputil.WriteJSON(w, http.StatusOK, toRegTokenJSON(*t))
	return nil
}

// DELETE /_synapse/admin/v1/registration_tokens/{token}
func (a *Admin) deleteRegToken(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	token := httputil.Vars(r)["token"]
	if err := a.d.Users.DeleteRegistrationToken(r.Context(), token); err != nil {
		return notFoundAs(err, errNoToken(token))
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}
