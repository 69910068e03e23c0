package federationapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
)

// TestV1Answer: a v1 send_join/send_leave answers [200, body] where v2
// answers body, and passes errors through unchanged.
func TestV1Answer(t *testing.T) {
	ok := func(w http.ResponseWriter, _ *http.Request, _ spec.ServerName, _ []byte) error {
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"state": []any{}, "origin": "one"})
		return nil
	}
	rec := httptest.NewRecorder()
	if err := v1Answer(ok)(rec, httptest.NewRequest(http.MethodPut, "/", nil), "two", nil); err != nil {
		t.Fatal(err)
	}
	var got []json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 2 || string(got[0]) != "200" {
		t.Fatalf("v1 answer %s: %v", rec.Body.String(), err)
	}
	var body map[string]any
	if err := json.Unmarshal(got[1], &body); err != nil || body["origin"] != "one" {
		t.Fatalf("v1 body %s: %v", got[1], err)
	}
	bad := func(http.ResponseWriter, *http.Request, spec.ServerName, []byte) error {
		return httputil.BadJSON("not a join")
	}
	if err := v1Answer(bad)(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/", nil), "two", nil); err == nil {
		t.Fatal("an error was swallowed")
	}
}
