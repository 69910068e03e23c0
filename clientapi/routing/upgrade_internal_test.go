package routing

import (
	"encoding/json"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
)

// TestUpgradedPowerLevels: the power levels the new room gets.
func TestUpgradedPowerLevels(t *testing.T) {
	v11, _ := gomatrixserverlib.GetRoomVersion("11")
	v12, _ := gomatrixserverlib.GetRoomVersion("12")
	v9, _ := gomatrixserverlib.GetRoomVersion("9")
	for _, tc := range []struct {
		name, pl, version, upgrader, creator, oldCreate string
		oldVersion                                      gomatrixserverlib.IRoomVersion
		creators                                        []string
		wantInitial, wantFinalUsers                     string // users maps; final "" when none is sent
	}{
		{name: "11 to 12: the creators leave users", pl: `{"users":{"@b:x":100,"@c:x":100}}`, version: "12", upgrader: "@b:x",
			creator: "@a:x", oldVersion: v11, creators: []string{"@b:x"}, wantInitial: `{"@c:x":100}`},
		{name: "12 to 12: additional creators leave users too", pl: `{"users":{"@b:x":150,"@c:x":50}}`, version: "12",
			upgrader: "@b:x", creator: "@a:x", oldVersion: v12, creators: []string{"@b:x", "@c:x"}, wantInitial: `{}`},
		{name: "12 to 11: the old creators get 100", pl: `{"users":{"@d:x":50}}`, version: "11", upgrader: "@a:x",
			creator: "@a:x", oldCreate: `{"additional_creators":["@c:x"]}`, oldVersion: v12, creators: []string{"@a:x"},
			wantInitial: `{"@a:x":100,"@c:x":100,"@d:x":50}`},
		{name: "11 to 11: a moderator upgrader is raised for the copy", pl: `{"users":{"@b:x":50},"state_default":60,
			"events":{"m.room.tombstone":50,"m.room.server_acl":100}}`, version: "11", upgrader: "@b:x", creator: "@a:x",
			oldVersion: v11, creators: []string{"@b:x"}, wantInitial: `{"@b:x":100}`, wantFinalUsers: `{"@b:x":50}`},
		{name: "9 to 11: string levels become integers", pl: `{"users":{"@b:x":"100"},"ban":"50"}`, version: "11", upgrader: "@b:x",
			creator: "@a:x", oldVersion: v9, creators: []string{"@b:x"}, wantInitial: `{"@b:x":100}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			create := tc.oldCreate
			if create == "" {
				create = `{}`
			}
			old := &oldRoom{creator: tc.creator, version: tc.oldVersion,
				state: roomState{"m.room.power_levels|": json.RawMessage(tc.pl), "m.room.create|": json.RawMessage(create)}}
			initial, final := upgradedPowerLevels(old, tc.upgrader, tc.creators, tc.version)
			users := func(raw json.RawMessage) string {
				var p struct {
					Users json.RawMessage `json:"users"`
					Ban   json.RawMessage `json:"ban"`
				}
				if err := json.Unmarshal(raw, &p); err != nil || string(p.Ban) != "50" {
					t.Fatalf("power levels %s (%v)", raw, err)
				}
				return string(p.Users)
			}
			if got := users(initial); got != tc.wantInitial {
				t.Fatalf("initial users %s; want %s", got, tc.wantInitial)
			}
			if (final == nil) != (tc.wantFinalUsers == "") || (final != nil && users(final) != tc.wantFinalUsers) {
				t.Fatalf("final %s; want users %s", final, tc.wantFinalUsers)
			}
		})
	}
}
