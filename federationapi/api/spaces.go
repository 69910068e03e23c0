package api

import (
	"context"
	"encoding/json"
	"time"
)

// HierarchyCacheTTL is how long another server's answer about a space is
// kept (spec: GET /_matrix/federation/v1/hierarchy, "Responses to this
// endpoint should be cached for a period of time"): short enough that a
// room newly linked or opened shows within minutes, long enough that a
// client paging through a large space asks each server once.
const HierarchyCacheTTL = 5 * time.Minute

// SpaceHierarchy is another server's answer to GET
// /_matrix/federation/v1/hierarchy/{roomId}: the room's summary with its
// children_state, the summaries of the children this server may see, and
// the children it may not. Rooms are kept as JSON: this package knows no
// roomserver type.
type SpaceHierarchy struct {
	Room                 json.RawMessage   `json:"room"`
	Children             []json.RawMessage `json:"children"`
	InaccessibleChildren []string          `json:"inaccessible_children"`
}

// RemoteSpaces reads spaces on other servers (the client API uses it for
// rooms this server is not in).
type RemoteSpaces interface {
	// RemoteHierarchy asks servers, in turn, for roomID's hierarchy and
	// returns the first answer; answers are cached for HierarchyCacheTTL
	// (refusals are not: a room that becomes visible shows at once).
	// Errors are those of the last server asked, ErrNoServers if none.
	RemoteHierarchy(ctx context.Context, roomID string, servers []string, suggestedOnly bool) (SpaceHierarchy, error)
}
