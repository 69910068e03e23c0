package appservice

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/appservice/api"
)

// maxThirdPartyBody bounds a service's answer to a third-party lookup.
const maxThirdPartyBody = 1 << 20

// ThirdParty proxies the client-server third-party lookups (spec:
// client-server API, "Third-party networks") to the services that bridge
// each protocol (their registrations' protocols), through
// /_matrix/app/v1/thirdparty/... with their hs_token. A service that fails
// or answers anything but 200 with the expected JSON is left out (logged).
type ThirdParty struct {
	Client *http.Client
	Reg    *api.Registry
	Log    logrus.FieldLogger
}

// Protocols returns the metadata of every protocol a service bridges; the
// instances of a protocol bridged by several services are merged.
func (t *ThirdParty) Protocols(ctx context.Context) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, p := range t.protocolNames() {
		if m, ok := t.Protocol(ctx, p); ok {
			out[p] = m
		}
	}
	return out
}

// Protocol returns the metadata of one protocol, and false when no service
// bridges it or none answered.
func (t *ThirdParty) Protocol(ctx context.Context, protocol string) (json.RawMessage, bool) {
	var merged map[string]json.RawMessage
	var instances []json.RawMessage
	for _, as := range t.bridging(protocol) {
		var m map[string]json.RawMessage
		if !t.get(ctx, as, "/_matrix/app/v1/thirdparty/protocol/"+url.PathEscape(protocol), nil, &m) {
			continue
		}
		instances = append(instances, withInstanceIDs(as, m["instances"])...)
		if merged == nil {
			merged = m
		}
	}
	if merged == nil {
		return nil, false
	}
	if instances == nil {
		instances = []json.RawMessage{}
	}
	merged["instances"], _ = json.Marshal(instances)
	raw, _ := json.Marshal(merged)
	return raw, true
}

// Lookup asks every service bridging protocol for the locations or users
// (kind "location" or "user") matching fields, and returns all answers.
// known is false when no service bridges protocol.
func (t *ThirdParty) Lookup(ctx context.Context, kind, protocol string, fields url.Values) (results []json.RawMessage, known bool) {
	services := t.bridging(protocol)
	for _, as := range services {
		var list []json.RawMessage
		if t.get(ctx, as, "/_matrix/app/v1/thirdparty/"+kind+"/"+url.PathEscape(protocol), fields, &list) {
			results = append(results, list...)
		}
	}
	return results, len(services) > 0
}

// Reverse asks every service with a URL for the third-party locations of
// a room alias or the third-party users of a user ID (kind "location" with
// alias=, "user" with userid=).
func (t *ThirdParty) Reverse(ctx context.Context, kind string, query url.Values) []json.RawMessage {
	var results []json.RawMessage
	for _, as := range t.Reg.All() {
		if as.URL == nil {
			continue
		}
		var list []json.RawMessage
		if t.get(ctx, as, "/_matrix/app/v1/thirdparty/"+kind, query, &list) {
			results = append(results, list...)
		}
	}
	return results
}

func (t *ThirdParty) protocolNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, as := range t.Reg.All() {
		for _, p := range as.Protocols {
			if !seen[p] {
				seen[p] = true
				names = append(names, p)
			}
		}
	}
	return names
}

func (t *ThirdParty) bridging(protocol string) []*api.Registration {
	var out []*api.Registration
	for _, as := range t.Reg.All() {
		for _, p := range as.Protocols {
			if p == protocol && as.URL != nil {
				out = append(out, as)
				break
			}
		}
	}
	return out
}

// get sends GET path?query to the service and decodes a 200 answer into v.
func (t *ThirdParty) get(ctx context.Context, as *api.Registration, path string, query url.Values, v any) bool {
	log := t.Log.WithField("appservice_id", as.ID).WithField("path", path)
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	target := strings.TrimRight(*as.URL, "/") + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		log.WithError(err).Warn("third-party lookup: bad request")
		return false
	}
	req.Header.Set("Authorization", "Bearer "+as.HSToken)
	resp, err := t.Client.Do(req)
	if err != nil {
		log.WithError(unwrapURLError(err)).Warn("third-party lookup failed")
		return false
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxThirdPartyBody))
	if err != nil || resp.StatusCode != http.StatusOK {
		if resp.StatusCode != http.StatusNotFound {
			log.WithField("status", resp.StatusCode).Warn("third-party lookup: unexpected answer")
		}
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		log.WithError(err).Warn("third-party lookup: answer is not the expected JSON")
		return false
	}
	return true
}

// InstanceID names a service's network in the client API (spec:
// ProtocolInstance.instance_id, "unique across all instances"): the
// service's id and the network's, joined by "|", as Synapse makes it.
func InstanceID(appServiceID, networkID string) string { return appServiceID + "|" + networkID }

// SplitInstanceID undoes InstanceID; ok is false for anything else.
func SplitInstanceID(instanceID string) (appServiceID, networkID string, ok bool) {
	return strings.Cut(instanceID, "|")
}

// withInstanceIDs gives each of the service's instances its instance_id.
func withInstanceIDs(as *api.Registration, raw json.RawMessage) []json.RawMessage {
	var list []map[string]json.RawMessage
	_ = json.Unmarshal(raw, &list)
	out := make([]json.RawMessage, 0, len(list))
	for _, inst := range list {
		var network string
		_ = json.Unmarshal(inst["network_id"], &network)
		inst["instance_id"], _ = json.Marshal(InstanceID(as.ID, network))
		b, _ := json.Marshal(inst)
		out = append(out, b)
	}
	return out
}
