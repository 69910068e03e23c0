package internal

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// TestResolveStatesByVersion: room version 12 resolves with v2.1, earlier
// versions with v2 as before. The creator makes the room invite-only and
// leaves; the other fork still has the public rule. v2 starts its checks
// from the unconflicted state, where the creator has left, and keeps no
// join rule; v2.1 starts from the empty set and keeps the invite rule.
func TestResolveStatesByVersion(t *testing.T) {
	for _, c := range []struct {
		ver  gomatrixserverlib.RoomVersion
		want string // the resolved join rule, "" for none
	}{
		{gomatrixserverlib.RoomVersionV10, ""},
		{gomatrixserverlib.RoomVersionV11, ""},
		{gomatrixserverlib.RoomVersionV12, "invite"},
	} {
		t.Run("v"+string(c.ver), func(t *testing.T) {
			ver := gomatrixserverlib.MustGetRoomVersion(c.ver)
			b := &eventMaker{t: t, ver: ver, room: "!r:test.local", now: time.UnixMilli(1_700_000_000_000)}
			if ver.DomainlessRoomIDs() {
				b.room = "" // the create event's hash names the room
			}
			create := b.make(spec.MRoomCreate, map[string]any{"room_version": string(c.ver), "creator": alice})
			if ver.DomainlessRoomIDs() {
				b.room = "!" + create.EventID()[1:]
			}
			join := b.make(spec.MRoomMember, map[string]any{"membership": "join"}, create)
			users := map[string]int{alice: 100}
			if ver.PrivilegedCreators() {
				users = map[string]int{} // the creator's power is infinite
			}
			pl := b.make(spec.MRoomPowerLevels, map[string]any{"users": users}, create, join)
			public := b.make(spec.MRoomJoinRules, map[string]any{"join_rule": "public"}, create, join, pl)
			invite := b.make(spec.MRoomJoinRules, map[string]any{"join_rule": "invite"}, create, join, pl)
			leave := b.make(spec.MRoomMember, map[string]any{"membership": "leave"}, create, join, pl)
			good := []gomatrixserverlib.PDU{create, pl, invite, leave}
			bad := []gomatrixserverlib.PDU{create, pl, public, leave}
			chain := []gomatrixserverlib.PDU{create, join, pl, public, invite, leave}
			got, err := resolveStates(ver, [][]gomatrixserverlib.PDU{good, bad}, chain, map[string]bool{})
			if err != nil {
				t.Fatal(err)
			}
			rule, member := "", ""
			for _, p := range got {
				switch p.Type() {
				case spec.MRoomJoinRules:
					var jr struct {
						JoinRule string `json:"join_rule"`
					}
					_ = json.Unmarshal(p.Content(), &jr)
					rule = jr.JoinRule
				case spec.MRoomMember:
					member, _ = p.Membership()
				}
			}
			if rule != c.want || member != spec.Leave {
				t.Fatalf("join rule %q, creator %q; want %q, leave", rule, member, c.want)
			}
		})
	}
}

// eventMaker builds alice's state events with the given auth events (the
// create event left out where the room version omits it).
type eventMaker struct {
	t    *testing.T
	ver  gomatrixserverlib.IRoomVersion
	room string
	now  time.Time
}

func (b *eventMaker) make(evType string, content any, auth ...gomatrixserverlib.PDU) gomatrixserverlib.PDU {
	b.t.Helper()
	c, _ := json.Marshal(content)
	ids := []string{}
	for _, a := range auth {
		if a.Type() == spec.MRoomCreate && b.ver.DomainlessRoomIDs() {
			continue
		}
		ids = append(ids, a.EventID())
	}
	sk := ""
	if evType == spec.MRoomMember {
		sk = alice
	}
	prev := []string{}
	if len(auth) > 0 {
		prev = []string{auth[0].EventID()}
	}
	b.now = b.now.Add(time.Second)
	proto := gomatrixserverlib.ProtoEvent{SenderID: alice, RoomID: b.room, Type: evType, StateKey: &sk, Content: c,
		PrevEvents: prev, AuthEvents: ids, Depth: int64(len(auth) + 1)}
	ev, err := b.ver.NewEventBuilderFromProtoEvent(&proto).Build(b.now, "test.local", "ed25519:k", ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		b.t.Fatal(err)
	}
	return ev
}
