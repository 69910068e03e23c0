package routing_test

import (
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
