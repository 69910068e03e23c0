package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestRetentionRoutesRefuseNonAdmins: every route of retention.go.
func TestRetentionRoutesRefuseNonAdmins(t *testing.T) {
	s := newServer(t, nil)
	room := "/v1/rooms/" + url.PathEscape("!r:test.local")
	var calls []call
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/v1/purge_history/" + url.PathEscape("!r:test.local"), map[string]any{"purge_up_to_ts": 1}},
		{http.MethodPost, "/v1/purge_history/" + url.PathEscape("!r:test.local") + "/" + url.PathEscape("$e"), nil},
		{http.MethodGet, "/v1/purge_history_status/abc", nil},
		{http.MethodGet, room + "/legal_hold", nil},
		{http.MethodPut, room + "/legal_hold", map[string]any{"hold": true}},
		{http.MethodDelete, room + "/legal_hold", nil},
		{http.MethodPost, "/v1/retention/run", nil},
	} {
		calls = append(calls, refusals(s, r.method, r.path, r.body)...)
	}
	run(t, s, calls)
}

// TestPurgeHistory: Synapse's purge history API — its refusals, the
// purge_id it answers, the status it reports, and that events of local
// users stay unless delete_local_events is set.
func TestPurgeHistory(t *testing.T) {
	s := newServer(t, nil)
	room := s.Room(t, s.Alice)
	old := s.Send(t, s.Alice, room, "old")
	s.Send(t, s.Alice, room, "latest")
	path := "/v1/purge_history/" + url.PathEscape(room)
	tok := s.Root.Token
	now := time.Now().Add(time.Second).UnixMilli()
	var purgeID string
	run(t, s, []call{
		{name: "bad room ID", method: http.MethodPost, path: "/v1/purge_history/nope", token: tok,
			body: map[string]any{"purge_up_to_ts": now}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "no point to purge up to", method: http.MethodPost, path: path, token: tok, body: map[string]any{},
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "timestamp not a number", method: http.MethodPost, path: path, token: tok,
			body: map[string]any{"purge_up_to_ts": "yesterday"}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "not JSON", method: http.MethodPost, path: path, token: tok, body: `{`,
			status: http.StatusBadRequest, errcode: "M_NOT_JSON"},
		{name: "unknown room", method: http.MethodPost, path: "/v1/purge_history/" + url.PathEscape("!nope:test.local"),
			token: tok, body: map[string]any{"purge_up_to_ts": now}, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "unknown event", method: http.MethodPost, path: path + "/" + url.PathEscape("$nope:test.local"), token: tok,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "unknown purge", method: http.MethodGet, path: "/v1/purge_history_status/nope", token: tok,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "purge without local events", method: http.MethodPost, path: path, token: tok,
			body: map[string]any{"purge_up_to_ts": now}, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				purgeID, _ = r.JSON()["purge_id"].(string)
				if purgeID == "" || len(r.JSON()) != 1 {
					t.Fatalf("body %s, want {purge_id}", r.Body)
				}
			}},
	})
	waitPurge(t, s, purgeID)
	if body := contentBody(t, s, old); body != "old" {
		t.Fatalf("a local event was purged without delete_local_events: body %q", body)
	}
	res := s.Do(t, http.MethodPost, adminPath(path), tok, map[string]any{"purge_up_to_ts": now, "delete_local_events": true})
	res.Want(t, http.StatusOK)
	waitPurge(t, s, res.JSON()["purge_id"].(string))
	if body := contentBody(t, s, old); body != "" {
		t.Fatalf("purged event keeps body %q", body)
	}
	// The audit log names the purge.
	entries := s.Do(t, http.MethodGet, adminPath("/v1/audit_log?target="+url.QueryEscape(room)), tok, nil)
	entries.Want(t, http.StatusOK)
	list, _ := entries.JSON()["entries"].([]any)
	if len(list) == 0 || list[0].(map[string]any)["detail"] != "purge_id "+res.JSON()["purge_id"].(string) {
		t.Fatalf("audit log %s", entries.Body)
	}
}

// waitPurge polls a purge's status until it is complete.
func waitPurge(t *testing.T, s *server, purgeID string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := s.Do(t, http.MethodGet, adminPath("/v1/purge_history_status/"+purgeID), s.Root.Token, nil)
		res.Want(t, http.StatusOK)
		switch st := res.JSON()["status"]; st {
		case "complete":
			if len(res.JSON()) != 1 {
				t.Fatalf("status body %s", res.Body)
			}
			return
		case "active":
		default:
			t.Fatalf("purge status %s", res.Body)
		}
		if time.Now().After(deadline) {
			t.Fatal("the purge did not complete within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// contentBody is an event's content.body as the roomserver has it.
func contentBody(t *testing.T, s *server, eventID string) string {
	t.Helper()
	ev, err := s.Rooms.Event(context.Background(), eventID)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Body string `json:"body"`
	}
	ce, err := ev.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ce.Content, &c); err != nil {
		t.Fatal(err)
	}
	return c.Body
}

// TestLegalHold: placing, reading and releasing a hold, and its effect: a
// held room's history cannot be purged (409 IM.MYELIN.LEGAL_HOLD). On both
// databases: the hold is a row the purge reads in its transaction.
func TestLegalHold(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) { testLegalHold(t, newServer(t, db)) })
}

func testLegalHold(t *testing.T, s *server) {
	room := s.Room(t, s.Alice)
	path := "/v1/rooms/" + url.PathEscape(room) + "/legal_hold"
	purge := "/v1/purge_history/" + url.PathEscape(room)
	tok := s.Root.Token
	wantHold := func(reason string) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			b := r.JSON()
			since, _ := b["since"].(float64)
			if b["hold"] != true || b["reason"] != reason || b["by"] != s.Root.ID || since <= 0 || len(b) != 4 {
				t.Fatalf("body %s", r.Body)
			}
		}
	}
	noHold := func(t *testing.T, r *fixture.Response) {
		if b := r.JSON(); b["hold"] != false || len(b) != 1 {
			t.Fatalf("body %s", r.Body)
		}
	}
	run(t, s, []call{
		{name: "no hold yet", method: http.MethodGet, path: path, token: tok, status: http.StatusOK, check: noHold},
		{name: "bad room ID", method: http.MethodGet, path: "/v1/rooms/nope/legal_hold", token: tok,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "hold missing", method: http.MethodPut, path: path, token: tok, body: map[string]any{"reason": "x"},
			status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "hold not a boolean", method: http.MethodPut, path: path, token: tok, body: map[string]any{"hold": "yes"},
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "unknown room", method: http.MethodPut, path: "/v1/rooms/" + url.PathEscape("!nope:test.local") + "/legal_hold",
			token: tok, body: map[string]any{"hold": true}, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "place", method: http.MethodPut, path: path, token: tok, body: map[string]any{"hold": true, "reason": "case 7"},
			status: http.StatusOK, check: wantHold("case 7")},
		{name: "read", method: http.MethodGet, path: path, token: tok, status: http.StatusOK, check: wantHold("case 7")},
		{name: "purge refused", method: http.MethodPost, path: purge, token: tok,
			body:   map[string]any{"purge_up_to_ts": time.Now().UnixMilli(), "delete_local_events": true},
			status: http.StatusConflict, errcode: "IM.MYELIN.LEGAL_HOLD"},
		{name: "room delete with purge refused", method: http.MethodDelete, path: "/v1/rooms/" + url.PathEscape(room), token: tok,
			body: map[string]any{"purge": true, "force_purge": true}, status: http.StatusConflict, errcode: "IM.MYELIN.LEGAL_HOLD"},
		{name: "new reason", method: http.MethodPut, path: path, token: tok, body: map[string]any{"hold": true, "reason": "case 8"},
			status: http.StatusOK, check: wantHold("case 8")},
		{name: "release with PUT", method: http.MethodPut, path: path, token: tok, body: map[string]any{"hold": false},
			status: http.StatusOK, check: noHold},
		{name: "released", method: http.MethodGet, path: path, token: tok, status: http.StatusOK, check: noHold},
		{name: "place again", method: http.MethodPut, path: path, token: tok, body: map[string]any{"hold": true},
			status: http.StatusOK, check: wantHold("")},
		{name: "release with DELETE", method: http.MethodDelete, path: path, token: tok, status: http.StatusOK, check: noHold},
		{name: "release again", method: http.MethodDelete, path: path, token: tok, status: http.StatusOK, check: noHold},
		{name: "purge allowed once released", method: http.MethodPost, path: purge, token: tok,
			body: map[string]any{"purge_up_to_ts": time.Now().UnixMilli()}, status: http.StatusOK},
		{name: "retention job off", method: http.MethodPost, path: "/v1/retention/run", token: tok,
			status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "audit of the hold", method: http.MethodGet, path: "/v1/audit_log?target=" + url.QueryEscape(room), token: tok,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				list, _ := r.JSON()["entries"].([]any)
				if len(list) < 4 {
					t.Fatalf("audit log %s", r.Body)
				}
				found := false
				for _, e := range list {
					if e.(map[string]any)["detail"] == "legal hold placed: case 7" {
						found = true
					}
				}
				if !found {
					t.Fatalf("no audit entry of the hold in %s", r.Body)
				}
			}},
	})
}
