package routing

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// Pushers (spec: "Push Notifications", GET /pushers and POST /pushers/set).

func (rt *Routes) setupPushers(v3 prefixed) {
	v3.Handle("/pushers", rt.authed(rt.getPushers)).Methods(http.MethodGet)
	v3.Handle("/pushers/set", rt.authed(rt.setPusher)).Methods(http.MethodPost)
}

// Limits of POST /pushers/set: a pushkey of at most 512 bytes, an app_id
// of at most 64 characters.
const (
	maxPushKeyBytes = 512
	maxAppIDChars   = 64
)

// pushGatewayPath is the path every http pusher's URL must have (spec:
// PusherData.url, "MUST be an HTTPS URL with a path of
// /_matrix/push/v1/notify").
const pushGatewayPath = "/_matrix/push/v1/notify"

// pusherJSON is a Pusher as GET /pushers lists it.
type pusherJSON struct {
	PushKey           string          `json:"pushkey"`
	Kind              string          `json:"kind"`
	AppID             string          `json:"app_id"`
	AppDisplayName    string          `json:"app_display_name"`
	DeviceDisplayName string          `json:"device_display_name"`
	ProfileTag        string          `json:"profile_tag,omitempty"`
	Lang              string          `json:"lang"`
	Data              json.RawMessage `json:"data"`
}

// GET /v3/pushers
func (rt *Routes) getPushers(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	ps, err := rt.users.Pushers(r.Context(), dev.Localpart)
	if err != nil {
		return err
	}
	out := make([]pusherJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, pusherJSON{
			PushKey: p.PushKey, Kind: p.Kind, AppID: p.AppID, AppDisplayName: p.AppDisplayName,
			DeviceDisplayName: p.DeviceDisplayName, ProfileTag: p.ProfileTag, Lang: p.Lang, Data: p.Data,
		})
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"pushers": out})
	return nil
}

// setPusherRequest is the body of POST /pushers/set. Kind stays raw to
// tell null (delete) from absent (an error).
type setPusherRequest struct {
	Kind              json.RawMessage `json:"kind"`
	AppID             *string         `json:"app_id"`
	PushKey           *string         `json:"pushkey"`
	AppDisplayName    *string         `json:"app_display_name"`
	DeviceDisplayName *string         `json:"device_display_name"`
	ProfileTag        string          `json:"profile_tag"`
	Lang              *string         `json:"lang"`
	Data              json.RawMessage `json:"data"`
	Append            bool            `json:"append"`
}

// POST /v3/pushers/set
func (rt *Routes) setPusher(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req setPusherRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if err := checkPusherKey(&req); err != nil {
		return err
	}
	if bytes.Equal(req.Kind, []byte("null")) {
		if err := rt.users.DeletePusher(r.Context(), dev.Localpart, *req.AppID, *req.PushKey); err != nil {
			return err
		}
		httputil.WriteJSON(w, http.StatusOK, struct{}{})
		return nil
	}
	p, err := newPusher(&req, dev)
	if err != nil {
		return err
	}
	if err := rt.users.SetPusher(r.Context(), *p, req.Append); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// checkPusherKey checks what every request needs: kind, app_id and
// pushkey, within their limits.
func checkPusherKey(req *setPusherRequest) error {
	if missing := missingParams(map[string]bool{
		"kind": len(req.Kind) == 0, "app_id": req.AppID == nil, "pushkey": req.PushKey == nil,
	}); missing != nil {
		return missing
	}
	if *req.AppID == "" || utf8.RuneCountInString(*req.AppID) > maxAppIDChars {
		return httputil.InvalidParam("app_id must be 1 to %d characters", maxAppIDChars)
	}
	if *req.PushKey == "" || len(*req.PushKey) > maxPushKeyBytes {
		return httputil.InvalidParam("pushkey must be 1 to %d bytes", maxPushKeyBytes)
	}
	return nil
}

// newPusher checks a request that creates or updates a pusher and returns
// the pusher, owned by the requesting device.
func newPusher(req *setPusherRequest, dev *api.Device) (*api.Pusher, error) {
	var kind string
	if err := json.Unmarshal(req.Kind, &kind); err != nil {
		return nil, httputil.InvalidParam("kind must be a string or null")
	}
	if missing := missingParams(map[string]bool{
		"app_display_name": req.AppDisplayName == nil, "device_display_name": req.DeviceDisplayName == nil,
		"lang": req.Lang == nil, "data": len(req.Data) == 0 || bytes.Equal(req.Data, []byte("null")),
	}); missing != nil {
		return nil, missing
	}
	if !isJSONObject(req.Data) {
		return nil, httputil.InvalidParam("data must be an object")
	}
	// NOTSPEC: only "http" pushers; "email" would need a mail sender this
	// server does not have, so it is refused rather than accepted and
	// never served.
	if kind != "http" {
		return nil, httputil.InvalidParam("Unsupported pusher kind %q: only \"http\" is supported", kind)
	}
	if err := checkHTTPPusherData(req.Data); err != nil {
		return nil, err
	}
	return &api.Pusher{
		Localpart: dev.Localpart, DeviceID: dev.ID, Kind: kind, AppID: *req.AppID, PushKey: *req.PushKey,
		AppDisplayName: *req.AppDisplayName, DeviceDisplayName: *req.DeviceDisplayName,
		ProfileTag: req.ProfileTag, Lang: *req.Lang, Data: req.Data,
	}, nil
}

// checkHTTPPusherData checks an http pusher's data: a url of the push
// gateway's notify endpoint, and a format, when given, of "event_id_only".
func checkHTTPPusherData(raw json.RawMessage) error {
	var data struct {
		URL    *string `json:"url"`
		Format *string `json:"format"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		return httputil.InvalidParam("data.url and data.format must be strings")
	}
	if data.URL == nil {
		return httputil.MissingParam("Missing parameters: data.url")
	}
	u, err := url.Parse(*data.URL)
	// NOTSPEC: plain http is accepted as well as https, for push gateways
	// on a private network or the same host (and tests).
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != pushGatewayPath {
		return httputil.InvalidParam("data.url must be an http(s) URL with the path %s", pushGatewayPath)
	}
	if data.Format != nil && *data.Format != "event_id_only" {
		return httputil.InvalidParam("data.format must be \"event_id_only\" when given")
	}
	return nil
}

// missingParams is M_MISSING_PARAM naming the parameters that are missing
// (in a stable order), or nil.
func missingParams(missing map[string]bool) error {
	var names []string
	for _, n := range []string{"kind", "app_id", "pushkey", "app_display_name", "device_display_name", "lang", "data"} {
		if missing[n] {
			names = append(names, n)
		}
	}
	if names == nil {
		return nil
	}
	return httputil.MissingParam("Missing parameters: %s", strings.Join(names, ", "))
}
