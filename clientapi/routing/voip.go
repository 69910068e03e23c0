package routing

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API's credentials are HMAC-SHA1, as coturn checks them
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// turnAnswer is the answer of GET /voip/turnServer.
type turnAnswer struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	URIs     []string `json:"uris"`
	TTL      int64    `json:"ttl"`
}

// GET /v3/voip/turnServer (spec: "Voice over IP"). With no TURN server
// configured the answer is {} with 200, as Synapse and Dendrite give it:
// the spec lists no error for it and clients read an empty object as "no
// relay".
func (rt *Routes) turnServer(w http.ResponseWriter, _ *http.Request, dev *api.Device) error {
	t := rt.opts.TURN
	if len(t.URIs) == 0 {
		httputil.WriteJSON(w, http.StatusOK, struct{}{})
		return nil
	}
	ttl := time.Duration(t.TTL)
	out := turnAnswer{Username: t.Username, Password: t.Password, URIs: t.URIs, TTL: int64(ttl / time.Second)}
	if t.SharedSecret != "" {
		out.Username, out.Password = TURNCredentials(t.SharedSecret, dev.UserID, time.Now().Add(ttl))
	}
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}

// TURNCredentials are the TURN REST API credentials (coturn's
// use-auth-secret) for userID until expiry: username "<expiry unix
// seconds>:<user ID>", password base64(HMAC-SHA1(secret, username)).
func TURNCredentials(secret, userID string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + userID
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// GET /.well-known/matrix/support (spec: "Server support discovery"): the
// configured contacts and support page; 404 when neither is configured.
func (rt *Routes) wellKnownSupport(w http.ResponseWriter, _ *http.Request) error {
	s := rt.opts.Support
	if s.Empty() {
		return httputil.NotFound("No support information configured")
	}
	out := struct {
		Contacts    []config.SupportContact `json:"contacts,omitempty"`
		SupportPage string                  `json:"support_page,omitempty"`
	}{s.Contacts, s.SupportPage}
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}
