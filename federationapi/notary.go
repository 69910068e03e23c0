package federationapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/federationapi/storage"
	"github.com/myelin-im/myelin/internal/httputil"
)

// maxNotaryServers bounds the servers one notary query may ask about.
const maxNotaryServers = 50

// POST /_matrix/key/v2/query (spec: "Querying Keys Through Another Server").
func (f *FederationAPI) queryKeysPost(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ServerKeys map[spec.ServerName]map[gomatrixserverlib.KeyID]struct {
			MinimumValidUntilTS spec.Timestamp `json:"minimum_valid_until_ts"`
		} `json:"server_keys"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if len(req.ServerKeys) > maxNotaryServers {
		return httputil.BadRequestUnknown("at most %d servers per query", maxNotaryServers)
	}
	wants := map[spec.ServerName]spec.Timestamp{}
	for server, ids := range req.ServerKeys {
		var min spec.Timestamp
		for _, c := range ids {
			min = max(min, c.MinimumValidUntilTS)
		}
		wants[server] = min
	}
	return f.answerNotary(w, r, wants)
}

// GET /_matrix/key/v2/query/{serverName}?minimum_valid_until_ts=
func (f *FederationAPI) queryKeysGet(w http.ResponseWriter, r *http.Request) error {
	server := spec.ServerName(httputil.Vars(r)["serverName"])
	var min spec.Timestamp
	if v := r.URL.Query().Get("minimum_valid_until_ts"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return httputil.InvalidParam("minimum_valid_until_ts must be a timestamp")
		}
		min = spec.Timestamp(n)
	}
	return f.answerNotary(w, r, map[spec.ServerName]spec.Timestamp{server: min})
}

// answerNotary returns, for each server, its signed key answer with this
// server's signature added: this server's own, a stored one valid long
// enough, or one fetched now. Servers whose keys cannot be had are left out.
func (f *FederationAPI) answerNotary(w http.ResponseWriter, r *http.Request, wants map[spec.ServerName]spec.Timestamp) error {
	out := []json.RawMessage{}
	for server, min := range wants {
		if _, _, ok := spec.ParseAndValidateServerName(server); !ok {
			continue
		}
		var answer []byte
		if server == f.name {
			b, err := f.keys.ownAnswer()
			if err != nil {
				return err
			}
			out = append(out, b)
			continue
		}
		stored, until, err := f.store.KeyResponse(r.Context(), string(server))
		switch {
		case err == nil && until >= int64(min) && until > f.now().UnixMilli():
			answer = stored
		case err == nil || errors.Is(err, storage.ErrNotFound):
			sk, ferr := f.keys.fetchDirect(r.Context(), server)
			if ferr != nil {
				httputil.Logger(r.Context()).WithError(ferr).WithField("server", string(server)).Info("notary: no keys")
				if err == nil {
					answer = stored // the old answer is better than none
				}
				break
			}
			answer = sk.Raw
		default:
			return err
		}
		if answer == nil {
			continue
		}
		signed, err := gomatrixserverlib.SignJSON(string(f.name), f.keys.keyID, f.keys.private, answer)
		if err != nil {
			continue
		}
		out = append(out, signed)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"server_keys": out})
	return nil
}
