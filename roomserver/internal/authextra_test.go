package internal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

// TestNotificationLevelsFromOtherServers: events from other servers go
// through the same notification levels rule as local ones (spec: auth
// rules, m.room.power_levels, notifications): a moderator at 50 may lower
// the @room level from 50, not raise it above 50.
func TestNotificationLevelsFromOtherServers(t *testing.T) {
	for _, ver := range []string{"10", "12"} {
		t.Run("v"+ver, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, sqltest.Open(t, sqlutil.SQLite))
			const rita = "@rita:remote.test"
			users := `{"` + alice + `":100,"` + rita + `":50}`
			if ver == "12" {
				users = `{"` + rita + `":50}` // the creator is not listed
			}
			roomID, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat, RoomVersion: ver,
				PowerLevelContentOverride: json.RawMessage(`{"users":` + users + `,"events":{"m.room.power_levels":50}}`)})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := f.rs.loadRoom(ctx, roomID)
			_, priv, _ := ed25519.GenerateKey(rand.Reader)
			x := &remote{t: t, priv: priv, ver: r.version, room: roomID, now: time.Now()}
			send := func(evType string, stateKey *string, content any, want api.InputResult) gomatrixserverlib.PDU {
				t.Helper()
				r.mu.Lock()
				prev, depth := append([]string(nil), r.extremities...), r.depth
				r.mu.Unlock()
				ev := x.event(rita, evType, stateKey, content, prev, depth+1, r)
				if got, err := f.rs.InputEvent(ctx, ev); err != nil || got != want {
					t.Fatalf("%s: %v %v, want %v", evType, got, err, want)
				}
				return ev
			}
			send(spec.MRoomMember, strPtr(rita), map[string]string{"membership": "join"}, api.InputAccepted)
			pl, err := f.rs.StateEvent(ctx, roomID, spec.MRoomPowerLevels, "")
			if err != nil {
				t.Fatal(err)
			}
			var content map[string]any
			if err := json.Unmarshal(pl.PDU, &struct {
				Content *map[string]any `json:"content"`
			}{&content}); err != nil {
				t.Fatal(err)
			}
			content["notifications"] = map[string]int{"room": 60}
			send(spec.MRoomPowerLevels, strPtr(""), content, api.InputRejected)
			content["notifications"] = map[string]int{"room": 40}
			lowered := send(spec.MRoomPowerLevels, strPtr(""), content, api.InputAccepted)
			if now, err := f.rs.StateEvent(ctx, roomID, spec.MRoomPowerLevels, ""); err != nil || now.ID != lowered.EventID() {
				t.Fatalf("power levels after rita lowered @room: %v %v, want %s", now, err, lowered.EventID())
			}
		})
	}
}
