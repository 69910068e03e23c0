package routing_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestSyncTimelineFilter: the filter's timeline part (types, not_senders)
// selects the events of the timeline, of a room seen whole as of one seen
// incrementally.
func TestSyncTimelineFilter(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, filter string
		keep         func(clientEvent) bool
	}{
		{"types", `{"room":{"timeline":{"types":["m.room.message"]},"state":{"types":[]}}}`,
			func(ev clientEvent) bool { return ev.Type == "m.room.message" }},
		{"not_types with a glob", `{"room":{"timeline":{"not_types":["m.room.*"]}}}`,
			func(clientEvent) bool { return false }},
		{"not_senders", `{"room":{"timeline":{"not_senders":["` + e.bob.ID + `"]}}}`,
			func(ev clientEvent) bool { return ev.Sender != e.bob.ID }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := doSync(t, e.Fixture, e.alice, "filter="+url.QueryEscape(tc.filter))
			evs := b.Rooms.Join[e.room].Timeline.Events
			for _, ev := range evs {
				if !tc.keep(ev) {
					t.Fatalf("initial sync timeline has %s from %s", ev.Type, ev.Sender)
				}
			}
			id := e.Send(t, e.bob, e.room, "incremental")
			e.waitStored(t, id)
			b = doSync(t, e.Fixture, e.alice, "timeout=0&filter="+url.QueryEscape(tc.filter)+"&since="+b.NextBatch)
			evs = b.Rooms.Join[e.room].Timeline.Events
			want := tc.keep(clientEvent{Type: "m.room.message", Sender: e.bob.ID})
			if want != (len(evs) == 1 && evs[0].EventID == id) || (!want && len(evs) != 0) {
				t.Fatalf("incremental timeline %v, want bob's message: %v", ids(evs), want)
			}
		})
	}
}

// TestSyncLeftRoomState: a left room in an initial sync carries the state
// at its timeline's start; with a timeline limit of 0, the state as of the
// leave (the leave itself included, nothing after it), as far as the
// state filter selects.
func TestSyncLeftRoomState(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, filter string
		wantLeave    bool
	}{
		{"limit 0", `{"room":{"timeline":{"limit":0},"include_leave":true}}`, true},
		{"limit 0, state types", `{"room":{"timeline":{"limit":0},"state":{"types":["m.room.create"]},"include_leave":true}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.Do(t, http.MethodGet, syncPath+"?filter="+url.QueryEscape(tc.filter), e.dave.Token, nil)
			res.Want(t, http.StatusOK)
			var b struct {
				Rooms struct {
					Leave map[string]struct {
						Timeline struct{ Events []clientEvent } `json:"timeline"`
						State    struct{ Events []clientEvent } `json:"state"`
					} `json:"leave"`
				} `json:"rooms"`
			}
			res.Decode(t, &b)
			room, ok := b.Rooms.Leave[e.room]
			if !ok || len(room.Timeline.Events) != 0 || len(room.State.Events) == 0 {
				t.Fatalf("left room %+v (present %v): want an empty timeline and state", room, ok)
			}
			leave := false
			for _, ev := range room.State.Events {
				if tc.wantLeave || ev.Type == "m.room.create" {
					isDave := ev.StateKey != nil && *ev.StateKey == e.dave.ID
					leave = leave || ev.Type == "m.room.member" && isDave && ev.Content["membership"] == "leave"
					continue
				}
				t.Fatalf("state has %s, which the filter leaves out", ev.Type)
			}
			if leave != tc.wantLeave {
				t.Fatalf("dave's leave in the state: %v, want %v", leave, tc.wantLeave)
			}
		})
	}
}
