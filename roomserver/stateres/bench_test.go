package stateres

import (
	"fmt"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// benchFork is a room forked in two: on each side alice changes the power
// levels once and sets 500 state events, the same keys on both sides, so
// 1,002 state events are conflicted.
func benchFork(b *testing.B) (sets [][]gomatrixserverlib.PDU, chain []gomatrixserverlib.PDU) {
	base := newBase(b)
	chain = base.with()
	for side := range 2 {
		levels := map[string]any{
			"users":  map[string]int{alice: 100, bob: 10 * (side + 1)},
			"events": map[string]int{spec.MRoomPowerLevels: 50},
		}
		pl := base.d.event(fmt.Sprintf("pl-%d", side), alice, spec.MRoomPowerLevels, "", levels, base.pl, base.aj)
		set := []gomatrixserverlib.PDU{pl}
		for i := range 500 {
			set = append(set, base.d.event(fmt.Sprintf("s-%d-%d", side, i), alice, "org.example.setting", fmt.Sprint(i),
				map[string]int{"side": side}, pl, base.aj))
		}
		chain = append(chain, pl)
		sets = append(sets, base.with(set...))
	}
	return sets, chain
}

// BenchmarkResolveFork1000: state resolution v2.1 (this package) and v2
// (gomatrixserverlib.ResolveConflicts, what room version 12 used before)
// on the same fork of 1,002 conflicted state events.
func BenchmarkResolveFork1000(b *testing.B) {
	sets, chain := benchFork(b)
	var flat []gomatrixserverlib.PDU
	for _, s := range sets {
		flat = append(flat, s...)
	}
	userID := func(_ spec.RoomID, s spec.SenderID) (*spec.UserID, error) { return spec.NewUserID(string(s), true) }
	b.Run("v2.1", func(b *testing.B) {
		for b.Loop() {
			out, err := ResolveV21(Input{StateSets: sets, AuthEvents: chain, Allowed: allowed})
			if err != nil || len(out) != 506 {
				b.Fatalf("%d events, %v", len(out), err)
			}
		}
	})
	b.Run("v2-gomatrixserverlib", func(b *testing.B) {
		for b.Loop() {
			out, err := gomatrixserverlib.ResolveConflicts(gomatrixserverlib.RoomVersionV12, flat, chain, userID,
				func(string) bool { return false })
			if err != nil || len(out) != 506 {
				b.Fatalf("%d events, %v", len(out), err)
			}
		}
	})
}
