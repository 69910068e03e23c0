package federationapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// readRooms are rooms of alice's that remote.test reads: hall, with
// history visible to members from their join on, where rita of remote.test
// joined between two of alice's messages; private, without remote.test;
// denied, which rita joined before its ACL shut remote.test out.
type readRooms struct {
	hall, private, denied string
	before, join, middle  string // hall's events, in order; after them, after
	after, privateMsg     string
	deniedMsg             string
}

func setUpReads(t *testing.T, f *fed) readRooms {
	t.Helper()
	alice := f.User(t, "alice")
	var r readRooms
	r.hall = f.publicRoom(t, alice)
	f.state(t, alice, r.hall, "m.room.history_visibility", map[string]string{"history_visibility": "joined"})
	r.before = f.Send(t, alice, r.hall, "before rita")
	r.join = f.joinRemote(t, r.hall, remoteUser("rita")).EventID()
	r.middle = f.Send(t, alice, r.hall, "middle")
	r.after = f.Send(t, alice, r.hall, "after")
	r.private = f.Room(t, alice)
	r.privateMsg = f.Send(t, alice, r.private, "private")
	r.denied = f.publicRoom(t, alice)
	f.joinRemote(t, r.denied, remoteUser("rita"))
	r.deniedMsg = f.Send(t, alice, r.denied, "denied")
	f.state(t, alice, r.denied, "m.room.server_acl", map[string]any{"allow": []string{"*"}, "deny": []string{"remote.test"}})
	return r
}

// TestReadRefusals: reads of rooms the origin's server is not in, whose
// ACL denies it, or that this server does not have; of unknown events;
// and with parameters missing or malformed (spec: GET /event, /state,
// /state_ids, /event_auth, /backfill, POST /get_missing_events).
func TestReadRefusals(t *testing.T) {
	f := newFed(t)
	r := setUpReads(t, f)
	const v1 = "/_matrix/federation/v1/"
	nothing := esc("!nothing:test.local")
	f.runRefusals(t, []refusal{
		{name: "event: unknown", path: v1 + "event/" + esc("$nothing"), status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "event: not an event ID", path: v1 + "event/nothing", status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "state: not a room ID", path: v1 + "state/lounge?event_id=" + esc(r.after), status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
		{name: "event: a room the origin is not in", path: v1 + "event/" + esc(r.privateMsg), status: http.StatusForbidden,
			errcode: "M_FORBIDDEN"},
		{name: "event: ACL denies the origin", path: v1 + "event/" + esc(r.deniedMsg), status: http.StatusForbidden,
			errcode: "M_FORBIDDEN"},
		{name: "state: no event_id", path: v1 + "state/" + esc(r.hall), status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "state: unknown event", path: v1 + "state/" + esc(r.hall) + "?event_id=%24nothing", status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
		{name: "state: unknown room", path: v1 + "state/" + nothing + "?event_id=%24nothing", status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
		{name: "state: a room the origin is not in", path: v1 + "state/" + esc(r.private) + "?event_id=" + esc(r.privateMsg),
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "state_ids: ACL denies the origin", path: v1 + "state_ids/" + esc(r.denied) + "?event_id=" + esc(r.deniedMsg),
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "event_auth: unknown event", path: v1 + "event_auth/" + esc(r.hall) + "/" + esc("$nothing"), status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
		{name: "event_auth: a room the origin is not in", path: v1 + "event_auth/" + esc(r.private) + "/" + esc(r.privateMsg),
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "backfill: no v", path: v1 + "backfill/" + esc(r.hall) + "?limit=5", status: http.StatusBadRequest,
			errcode: "M_MISSING_PARAM"},
		{name: "backfill: limit not a number", path: v1 + "backfill/" + esc(r.hall) + "?limit=many&v=" + esc(r.after),
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "backfill: limit 0", path: v1 + "backfill/" + esc(r.hall) + "?limit=0&v=" + esc(r.after), status: http.StatusBadRequest,
			errcode: "M_INVALID_PARAM"},
		{name: "backfill: a room the origin is not in", path: v1 + "backfill/" + esc(r.private) + "?limit=5&v=" + esc(r.privateMsg),
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "backfill: unknown room", path: v1 + "backfill/" + nothing + "?limit=5&v=%24x", status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
		{name: "timestamp_to_event: no ts", path: v1 + "timestamp_to_event/" + esc(r.hall) + "?dir=f", status: http.StatusBadRequest,
			errcode: "M_MISSING_PARAM"},
		{name: "timestamp_to_event: ts not a number", path: v1 + "timestamp_to_event/" + esc(r.hall) + "?dir=f&ts=noon",
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "timestamp_to_event: no dir", path: v1 + "timestamp_to_event/" + esc(r.hall) + "?ts=1", status: http.StatusBadRequest,
			errcode: "M_INVALID_PARAM"},
		{name: "timestamp_to_event: a room the origin is not in", path: v1 + "timestamp_to_event/" + esc(r.private) + "?ts=1&dir=f",
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "timestamp_to_event: ACL denies the origin", path: v1 + "timestamp_to_event/" + esc(r.denied) + "?ts=1&dir=f",
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "timestamp_to_event: unknown room", path: v1 + "timestamp_to_event/" + nothing + "?ts=1&dir=f",
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "timestamp_to_event: nothing after", path: v1 + "timestamp_to_event/" + esc(r.hall) + "?ts=99999999999999&dir=f",
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "timestamp_to_event: nothing before", path: v1 + "timestamp_to_event/" + esc(r.hall) + "?ts=0&dir=b",
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "get_missing_events: bad JSON", method: http.MethodPost, path: v1 + "get_missing_events/" + esc(r.hall),
			body: `{"limit":"ten"}`, status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "get_missing_events: ACL denies the origin", method: http.MethodPost, path: v1 + "get_missing_events/" + esc(r.denied),
			body: map[string]any{"latest_events": []string{r.deniedMsg}}, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
	})
}

// TestReads: what a server in the room reads, shaped as the spec says, and
// under the room's history visibility: alice's message from before rita
// joined (visibility "joined") reaches remote.test redacted.
func TestReads(t *testing.T) {
	f := newFed(t)
	r := setUpReads(t, f)
	const v1 = "/_matrix/federation/v1/"
	get := func(t *testing.T, path string) map[string]json.RawMessage {
		t.Helper()
		res := f.DoSigned(t, f.remote, http.MethodGet, path, nil)
		res.Want(t, http.StatusOK)
		var out map[string]json.RawMessage
		res.Decode(t, &out)
		return out
	}
	t.Run("event", func(t *testing.T) {
		out := get(t, v1+"event/"+esc(r.after))
		if string(out["origin"]) != `"test.local"` || len(out["origin_server_ts"]) == 0 {
			t.Fatalf("not a transaction: %v", out)
		}
		wantBodies(t, out["pdus"], map[string]string{r.after: "after"})
	})
	t.Run("event from before the origin's join", func(t *testing.T) {
		wantBodies(t, get(t, v1+"event/"+esc(r.before))["pdus"], map[string]string{r.before: ""})
	})
	t.Run("timestamp_to_event", func(t *testing.T) {
		at := func(dir string, ts int64) (id string, when int64) {
			out := get(t, v1+"timestamp_to_event/"+esc(r.hall)+"?dir="+dir+"&ts="+strconv.FormatInt(ts, 10))
			var a struct {
				EventID string `json:"event_id"`
				TS      int64  `json:"origin_server_ts"`
			}
			if err := json.Unmarshal(mustJSON(t, out), &a); err != nil || a.EventID == "" || a.TS <= 0 {
				t.Fatalf("dir %s from %d: %v %v", dir, ts, out, err)
			}
			return a.EventID, a.TS
		}
		// Backwards from far ahead: the last event; backwards from its
		// time: the same (the last of a tie); forwards from the epoch: the
		// room's first event, not the last.
		last, ts := at("b", 99999999999999)
		if last != r.after {
			t.Fatalf("backwards from far ahead: %s, want %s", last, r.after)
		}
		if again, _ := at("b", ts); again != r.after {
			t.Fatalf("backwards from the last event's time: %s", again)
		}
		if first, _ := at("f", 0); first == r.after {
			t.Fatalf("forwards from the epoch: the last event")
		}
	})
	t.Run("state_ids", func(t *testing.T) {
		out := get(t, v1+"state_ids/"+esc(r.hall)+"?event_id="+esc(r.after))
		var ids map[string][]string
		if err := json.Unmarshal(mustJSON(t, out), &ids); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ids["pdu_ids"], r.join) || slices.Contains(ids["pdu_ids"], r.after) || ids["auth_chain_ids"] == nil {
			t.Fatalf("state_ids %v", ids)
		}
	})
	t.Run("state", func(t *testing.T) {
		out := get(t, v1+"state/"+esc(r.hall)+"?event_id="+esc(r.after))
		if !hasEvent(list(t, out["pdus"]), spec.MRoomCreate) || !hasEvent(list(t, out["pdus"]), "m.room.history_visibility") {
			t.Fatalf("state %s", out["pdus"])
		}
	})
	t.Run("event_auth", func(t *testing.T) {
		out := get(t, v1+"event_auth/"+esc(r.hall)+"/"+esc(r.after))
		if !hasEvent(list(t, out["auth_chain"]), spec.MRoomPowerLevels) {
			t.Fatalf("auth chain %s", out["auth_chain"])
		}
	})
	t.Run("backfill", func(t *testing.T) {
		out := get(t, v1+"backfill/"+esc(r.hall)+"?limit=3&v="+esc(r.after))
		wantBodies(t, out["pdus"], map[string]string{r.after: "after", r.middle: "middle", r.join: ""})
		out = get(t, v1+"backfill/"+esc(r.hall)+"?limit=2&v="+esc(r.join))
		wantBodies(t, out["pdus"], map[string]string{r.join: "", r.before: ""})
	})
	t.Run("get_missing_events", func(t *testing.T) {
		res := f.DoSigned(t, f.remote, http.MethodPost, v1+"get_missing_events/"+esc(r.hall),
			map[string]any{"earliest_events": []string{r.join}, "latest_events": []string{r.after}})
		res.Want(t, http.StatusOK)
		var out map[string]json.RawMessage
		res.Decode(t, &out)
		evs := list(t, out["events"])
		if len(evs) != 1 {
			t.Fatalf("events between rita's join and after: %s", out["events"])
		}
		wantBodies(t, out["events"], map[string]string{r.middle: "middle"})
	})
}

// wantBodies checks that pdus (a JSON list) holds the events of want (by
// ID) with those bodies ("": no body, such as a redacted message's or a
// state event's), and no others.
func wantBodies(t *testing.T, pdus json.RawMessage, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, raw := range list(t, pdus) {
		var e struct {
			EventID string `json:"event_id"`
			Content struct {
				Body string `json:"body"`
			} `json:"content"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		got[eventID(t, raw, e.EventID)] = e.Content.Body
	}
	for id, body := range want {
		if b, ok := got[id]; !ok || b != body {
			t.Fatalf("event %s: body %q (there: %v), want %q; got %v", id, b, ok, body, got)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// eventID is an event's ID: its event_id field, or (from room version 3
// on, where events carry none) its reference hash.
func eventID(t *testing.T, raw json.RawMessage, field string) string {
	t.Helper()
	if field != "" {
		return field
	}
	p, err := roomVersion.NewEventFromTrustedJSON(raw, false)
	if err != nil {
		t.Fatal(err)
	}
	return p.EventID()
}

func list(t *testing.T, raw json.RawMessage) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roomVersion is the version of the tests' rooms (the default).
var roomVersion = gomatrixserverlib.MustGetRoomVersion("12")
