package routing

import (
	"encoding/json"
	"maps"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// upgradedPowerLevels are the old room's power levels for the new one
// (spec: server behaviour, step 3), with every level as an integer (room
// versions 10 and later refuse strings) and the old room's other keys kept.
// In a new room whose version privileges its creators (room version 12)
// the creators may not be listed (spec: room version 12, authorization
// rules), so the upgrader and the additional creators are removed from
// users; going the other way, the old room's creators, unlisted there, get
// 100, as a creator has in the versions before 12. When the upgrader's own
// level is below what copying the state and bans needs, initial raises it
// and final is what to send once done (as Synapse does); else final is nil.
func upgradedPowerLevels(old *oldRoom, upgrader string, creators []string, newVersion string) (initial, final json.RawMessage) {
	raw, ok := old.state["m.room.power_levels|"]
	if !ok {
		return nil, nil // the new room's defaults
	}
	p, ok := parsePowerLevels(old.version, raw)
	if !ok {
		return nil, nil
	}
	p.Users = maps.Clone(p.Users)
	if p.Users == nil {
		p.Users = map[string]int64{}
	}
	nowPrivileged := privilegedCreators(newVersion)
	if nowPrivileged {
		for _, c := range creators {
			delete(p.Users, c)
		}
	} else {
		for _, c := range old.creators() {
			p.Users[c] = max(p.Users[c], 100)
		}
	}
	final = mergePowerLevels(raw, p)
	needed := max(p.StateDefault, p.Ban)
	for _, l := range p.Events {
		needed = max(needed, l)
	}
	if nowPrivileged || p.UserLevel(spec.SenderID(upgrader)) >= needed {
		return final, nil
	}
	p.Users = maps.Clone(p.Users)
	p.Users[upgrader] = needed
	return mergePowerLevels(raw, p), final
}

// mergePowerLevels is the old content with p's levels written over it.
func mergePowerLevels(raw json.RawMessage, p gomatrixserverlib.PowerLevelContent) json.RawMessage {
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{}
	}
	out["ban"], out["invite"], out["kick"], out["redact"] = p.Ban, p.Invite, p.Kick, p.Redact
	out["users_default"], out["events_default"], out["state_default"] = p.UsersDefault, p.EventsDefault, p.StateDefault
	out["users"] = p.Users
	if p.Events != nil {
		out["events"] = p.Events
	}
	if p.Notifications != nil {
		out["notifications"] = p.Notifications
	}
	b, _ := json.Marshal(out)
	return b
}

// parsePowerLevels reads power levels content with the room version's
// parsing, absent keys at the spec's defaults (m.room.power_levels).
func parsePowerLevels(version gomatrixserverlib.IRoomVersion, raw json.RawMessage) (gomatrixserverlib.PowerLevelContent, bool) {
	var p gomatrixserverlib.PowerLevelContent
	p.Defaults()
	return p, version.ParsePowerLevels(raw, &p) == nil
}
