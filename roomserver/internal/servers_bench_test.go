package internal

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/storage"
)

// BenchmarkJoinedServers: the destinations of a local event in a room with
// 1,000 joined members on 100 servers, computed from the state (what every
// local event paid before the cache) and from the cache.
func BenchmarkJoinedServers(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ver := gomatrixserverlib.MustGetRoomVersion(gomatrixserverlib.RoomVersionV10)
	r := &room{version: ver, state: map[storage.StateKey]stateEvent{}}
	for i := 0; i < 1000; i++ {
		user := fmt.Sprintf("@u%d:s%d.test", i, i%100)
		proto := gomatrixserverlib.ProtoEvent{SenderID: user, RoomID: "!r:s0.test", Type: spec.MRoomMember, StateKey: &user,
			Content: []byte(`{"membership":"join"}`), Depth: int64(i + 3), PrevEvents: []string{"$p"}, AuthEvents: []string{"$c"}}
		ev, err := ver.NewEventBuilderFromProtoEvent(&proto).Build(time.Now(), "s0.test", "ed25519:k", key)
		if err != nil {
			b.Fatal(err)
		}
		r.setState(storage.StateKey{Type: spec.MRoomMember, StateKey: user}, stateEvent{pdu: ev})
	}
	b.Run("computed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if len(r.computeJoinedServers()) != 100 {
				b.Fatal("wrong servers")
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if len(r.joinedServers()) != 100 {
				b.Fatal("wrong servers")
			}
		}
	})
}
