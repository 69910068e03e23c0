package federationapi

import (
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
)

// TestStateAfter: the state after a gap's prev event is the state before it
// (from /state_ids) with the prev event on top when it is a state event:
// it replaces the event of its type and state key, or joins the state; a
// message leaves the state as it was.
func TestStateAfter(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ver := gomatrixserverlib.MustGetRoomVersion(gomatrixserverlib.RoomVersionV10)
	build := func(typ string, stateKey *string, depth int64) gomatrixserverlib.PDU {
		proto := gomatrixserverlib.ProtoEvent{SenderID: "@a:x.test", RoomID: "!r:x.test", Type: typ, StateKey: stateKey,
			Content: []byte(`{}`), Depth: depth, PrevEvents: []string{"$p"}, AuthEvents: []string{"$c"}}
		ev, err := ver.NewEventBuilderFromProtoEvent(&proto).Build(time.Now(), "x.test", "ed25519:k", key)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	empty, bob := "", "@b:x.test"
	create := build("m.room.create", &empty, 1)
	topic1 := build("m.room.topic", &empty, 2)
	topic2 := build("m.room.topic", &empty, 3)
	member := build("m.room.member", &bob, 4)
	msg := build("m.room.message", nil, 5)
	evs := map[string]gomatrixserverlib.PDU{}
	for _, p := range []gomatrixserverlib.PDU{create, topic1, topic2, member, msg} {
		evs[p.EventID()] = p
	}
	before := []string{create.EventID(), topic1.EventID()}
	for _, tc := range []struct {
		name string
		prev gomatrixserverlib.PDU
		want []string
	}{
		{"a message", msg, before},
		{"unknown prev", nil, before},
		{"a state event replacing one", topic2, []string{create.EventID(), topic2.EventID()}},
		{"a new state key", member, []string{create.EventID(), topic1.EventID(), member.EventID()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := stateAfter(slices.Clone(before), tc.prev, evs)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("state after = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestBackfillServers: the creator's server is asked first when it is in
// the room, this server never, every other server once.
func TestBackfillServers(t *testing.T) {
	for _, tc := range []struct {
		name          string
		servers       []string
		self, creator string
		wantFirst     string
		wantLen       int
	}{
		{"creator first", []string{"a", "b", "c", "self"}, "self", "c", "c", 3},
		{"creator gone", []string{"a", "b", "self"}, "self", "c", "", 2},
		{"creator unknown", []string{"a", "b", "self"}, "self", "", "", 2},
		{"this server created it", []string{"a", "self"}, "self", "self", "a", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 {
				got := backfillServers(tc.servers, tc.self, tc.creator)
				if len(got) != tc.wantLen || slices.Contains(got, tc.self) {
					t.Fatalf("servers %v", got)
				}
				if tc.wantFirst != "" && got[0] != tc.wantFirst {
					t.Fatalf("servers %v, want %s first", got, tc.wantFirst)
				}
				if tc.wantFirst == "" && slices.Contains(got, tc.creator) {
					t.Fatalf("servers %v hold the creator's, not in the room", got)
				}
			}
		})
	}
}
