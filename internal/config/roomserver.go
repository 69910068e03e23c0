package config

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
)

// DefaultRoomVersion is the version of rooms created without one (spec:
// client-server API, "Room versions": servers SHOULD use room version 12).
const DefaultRoomVersion = "12"

// DefaultRedactionRetention is how long the originals of redacted events
// are kept by default (Synapse's redaction_retention_period default).
const DefaultRedactionRetention = 7 * 24 * time.Hour

// RoomServer configures the room component.
type RoomServer struct {
	// DefaultRoomVersion is the version of rooms created without
	// room_version, and the default /capabilities advertises: a stable
	// version Myelin supports. Default "12".
	DefaultRoomVersion string `yaml:"default_room_version"`
	// RedactionRetentionPeriod is how long the original content of a
	// redacted event is kept (for admins' room exports only) before it is
	// pruned; 0 keeps it forever. Default 168h (7 days). Defaults never
	// changes it, since 0 is meaningful: only Default sets it.
	RedactionRetentionPeriod Duration `yaml:"redaction_retention_period"`
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
	if r.RedactionRetentionPeriod < 0 {
		errs.Add("room_server.redaction_retention_period", "must be >= 0 (got %s)", r.RedactionRetentionPeriod)
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
	docs["room_server.redaction_retention_period"] = "How long the original content of a redacted event is kept, " +
		"readable only by admins' room exports, before it is pruned; 0s keeps it forever."
}
