package federationapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
)

// fedHandler serves a request signed by origin; body is the request body.
type fedHandler func(w http.ResponseWriter, r *http.Request, origin spec.ServerName, body []byte) error

// authed verifies the request's X-Matrix signature (spec: server-server
// API, "Request Authentication") before calling h: a missing or malformed
// header, a destination that is not this server, an unknown key or a bad
// signature are 401 M_UNAUTHORIZED.
func (f *FederationAPI) authed(h fedHandler) httputil.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := httputil.ReadBody(r)
		if err != nil {
			return err
		}
		if len(body) > 0 && !json.Valid(body) {
			return httputil.NotJSON("the body is not JSON")
		}
		origin, err := f.verifyRequest(r, body)
		if err != nil {
			return err
		}
		httputil.Logger(r.Context()).Data["origin"] = string(origin)
		return h(w, r, origin, body)
	}
}

// verifyRequest checks the X-Matrix headers of r and returns the origin.
func (f *FederationAPI) verifyRequest(r *http.Request, body []byte) (spec.ServerName, error) {
	headers := r.Header.Values("Authorization")
	if len(headers) == 0 {
		return "", httputil.Unauthorized("missing Authorization: X-Matrix header")
	}
	var lastErr error
	for _, h := range headers {
		scheme, origin, destination, keyID, sig := fclient.ParseAuthorization(h)
		if !strings.EqualFold(scheme, "X-Matrix") || origin == "" || keyID == "" || sig == "" {
			lastErr = httputil.Unauthorized("malformed X-Matrix authorization")
			continue
		}
		if _, _, ok := spec.ParseAndValidateServerName(origin); !ok {
			lastErr = httputil.Unauthorized("the origin is not a server name")
			continue
		}
		if destination != "" && destination != f.name {
			lastErr = httputil.Unauthorized("this server is %s, not %s", f.name, destination)
			continue
		}
		uri := r.RequestURI
		if uri == "" {
			uri = r.URL.RequestURI()
		}
		msg := map[string]any{
			"method": r.Method, "uri": uri, "origin": origin, "destination": f.name,
			"signatures": map[spec.ServerName]map[gomatrixserverlib.KeyID]string{origin: {keyID: sig}},
		}
		if len(body) > 0 {
			msg["content"] = json.RawMessage(body)
		}
		js, err := json.Marshal(msg)
		if err != nil {
			return "", err
		}
		results, err := f.keyRing.VerifyJSONs(r.Context(), []gomatrixserverlib.VerifyJSONRequest{{
			ServerName: origin, AtTS: spec.AsTimestamp(f.now()), Message: js,
			ValidityCheckingFunc: gomatrixserverlib.StrictValiditySignatureCheck,
		}})
		if err != nil {
			lastErr = httputil.Unauthorized("cannot check the signature of %s: %v", origin, err)
			continue
		}
		if results[0].Error != nil {
			lastErr = httputil.Unauthorized("bad signature from %s: %v", origin, results[0].Error)
			continue
		}
		return origin, nil
	}
	return "", lastErr
}
