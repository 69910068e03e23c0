package config

import (
	"slices"
	"sort"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
)

// DefaultRoomVersion is the version of rooms created without one (spec:
// client-server API, "Room versions": servers SHOULD use room version 12).
const DefaultRoomVersion = "12"

// RoomServer configures the room component.
type RoomServer struct {
	// DefaultRoomVersion is the version of rooms created without
	// room_version, and the default /capabilities advertises: a stable
	// version Myelin supports. Default "12".
	DefaultRoomVersion string `yaml:"default_room_version"`
}

// Defaults fills the zero fields of r.
func (r *RoomServer) Defaults() { setDefault(&r.DefaultRoomVersion, DefaultRoomVersion) }

// Verify records the problems of r in errs.
func (r *RoomServer) Verify(errs *Errors) {
	stable := StableRoomVersions()
	if !slices.Contains(stable, r.DefaultRoomVersion) {
		errs.Add("room_server.default_room_version", "must be a stable room version, one of %s (got %q)",
			strings.Join(stable, ", "), r.DefaultRoomVersion)
	}
}

// StableRoomVersions lists the stable room versions Myelin can create, in
// numeric order.
func StableRoomVersions() []string {
	var out []string
	for v := range gomatrixserverlib.StableRoomVersions() {
		out = append(out, string(v))
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) < len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

func init() {
	docs["room_server"] = "The room component: rooms, their events and their state."
	docs["room_server.default_room_version"] = "Version of rooms created without room_version, " +
		"also the default /capabilities advertises. A stable version: " + strings.Join(StableRoomVersions(), ", ") + "."
}
