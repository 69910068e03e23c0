package federationapi_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/federationapi/storage"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestNotaryRefusals: malformed notary queries (spec: "Querying Keys
// Through Another Server").
func TestNotaryRefusals(t *testing.T) {
	f := newFed(t)
	many := map[string]any{}
	for i := range 51 {
		many[fmt.Sprintf("s%d.test", i)] = map[string]any{}
	}
	tests := []refusal{
		{"not JSON", http.MethodPost, "/_matrix/key/v2/query", "{", http.StatusBadRequest, "M_NOT_JSON"},
		{"not an object", http.MethodPost, "/_matrix/key/v2/query", `["x"]`, http.StatusBadRequest, "M_BAD_JSON"},
		{"over 50 servers", http.MethodPost, "/_matrix/key/v2/query", map[string]any{"server_keys": many},
			http.StatusBadRequest, "M_UNKNOWN"},
		{"minimum_valid_until_ts not a number", http.MethodGet, "/_matrix/key/v2/query/remote.test?minimum_valid_until_ts=soon", nil,
			http.StatusBadRequest, "M_INVALID_PARAM"},
	}
	// The key endpoints need no signature.
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.Do(t, tc.method, tc.path, "", tc.body).Want(t, tc.status, tc.errcode)
		})
	}
}

// TestNotaryAnswers: the notary answers with each server's own signed key
// answer and its own signature added: this server's, a stored one valid
// long enough, a stored one past what was asked when a fresh one cannot be
// had (better than none); servers whose keys cannot be had, and names that
// are not server names, are left out.
func TestNotaryAnswers(t *testing.T) {
	f := newFed(t)
	until := time.Now().Add(time.Hour)
	storeKeyAnswer(t, f, f.remote, until)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		want   []spec.ServerName
	}{
		{"this server", http.MethodPost, "/_matrix/key/v2/query",
			map[string]any{"server_keys": map[string]any{"test.local": map[string]any{}}}, []spec.ServerName{serverName}},
		{"a stored answer", http.MethodGet, "/_matrix/key/v2/query/remote.test", nil, []spec.ServerName{"remote.test"}},
		{"a stored answer not valid long enough, none fresher to be had", http.MethodGet,
			"/_matrix/key/v2/query/remote.test?minimum_valid_until_ts=" + strconv.FormatInt(until.Add(time.Hour).UnixMilli(), 10), nil,
			[]spec.ServerName{"remote.test"}},
		{"no keys to be had", http.MethodGet, "/_matrix/key/v2/query/" + stranger, nil, nil},
		{"not a server name", http.MethodPost, "/_matrix/key/v2/query",
			map[string]any{"server_keys": map[string]any{"bad name!": map[string]any{}}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Do(t, tc.method, tc.path, "", tc.body)
			res.Want(t, http.StatusOK)
			var out struct {
				ServerKeys []json.RawMessage `json:"server_keys"`
			}
			res.Decode(t, &out)
			if len(out.ServerKeys) != len(tc.want) {
				t.Fatalf("%d answers, want %v: %s", len(out.ServerKeys), tc.want, res.Body)
			}
			for i, raw := range out.ServerKeys {
				wantNotarised(t, f, raw, tc.want[i])
			}
		})
	}
}

// wantNotarised checks a notary answer: server's own, signed by this
// server too.
func wantNotarised(t *testing.T, f *fed, raw json.RawMessage, server spec.ServerName) {
	t.Helper()
	var sk gomatrixserverlib.ServerKeys
	if err := json.Unmarshal(raw, &sk); err != nil || sk.ServerName != server {
		t.Fatalf("an answer for %s, want %s (%v)", sk.ServerName, server, err)
	}
	pub := f.Key.Private.Public().(ed25519.PublicKey)
	if err := gomatrixserverlib.VerifyJSON(string(serverName), gomatrixserverlib.KeyID(f.Key.ID), pub, raw); err != nil {
		t.Fatalf("the notary's signature on %s: %v", server, err)
	}
	if server == f.remote.Name {
		if err := gomatrixserverlib.VerifyJSON(string(server), f.remote.KeyID, f.remote.Public(), raw); err != nil {
			t.Fatalf("%s's own signature: %v", server, err)
		}
	}
}

// storeKeyAnswer stores s's signed key answer, valid until until, as the
// component keeps one it fetched.
func storeKeyAnswer(t *testing.T, f *fed, s *fixture.Server, until time.Time) {
	t.Helper()
	body, err := json.Marshal(gomatrixserverlib.ServerKeyFields{
		ServerName:   s.Name,
		VerifyKeys:   map[gomatrixserverlib.KeyID]gomatrixserverlib.VerifyKey{s.KeyID: {Key: spec.Base64Bytes(s.Public())}},
		ValidUntilTS: spec.AsTimestamp(until),
	})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := gomatrixserverlib.SignJSON(string(s.Name), s.KeyID, s.Private, body)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := storage.New(ctx, f.DB)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.StoreKeyResponse(ctx, string(s.Name), signed, until.UnixMilli()); err != nil {
		t.Fatal(err)
	}
}
