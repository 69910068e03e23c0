package api

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Room types and state event types of spaces (spec: client-server API,
// "Spaces").
const (
	RoomTypeSpace  = "m.space"
	MSpaceChild    = "m.space.child"
	MSpaceParent   = "m.space.parent"
	maxOrderLength = 50
)

// SpaceChild is an m.space.child state event as the hierarchy APIs give it:
// a stripped state event with its origin_server_ts (spec: GET
// /v1/rooms/{roomId}/hierarchy, StrippedChildStateEvent).
type SpaceChild struct {
	Type           string          `json:"type"`
	StateKey       string          `json:"state_key"`
	Sender         string          `json:"sender"`
	Content        json.RawMessage `json:"content"`
	OriginServerTS int64           `json:"origin_server_ts"`
}

// spaceChildContent is the content of m.space.child (spec: m.space.child).
type spaceChildContent struct {
	Via       []string `json:"via"`
	Order     any      `json:"order"`
	Suggested bool     `json:"suggested"`
}

func (c SpaceChild) content() spaceChildContent {
	var sc spaceChildContent
	_ = json.Unmarshal(c.Content, &sc)
	return sc
}

// Via are the servers the child may be reached through.
func (c SpaceChild) Via() []string { return c.content().Via }

// Suggested reports whether the space suggests the child.
func (c SpaceChild) Suggested() bool { return c.content().Suggested }

// validOrder is an order key if it is valid (spec: m.space.child, order:
// "Must consist of ASCII characters within the range \x20 (space) and \x7E
// (~), inclusive", at most 50 characters).
func validOrder(order any) (string, bool) {
	s, ok := order.(string)
	if !ok || len(s) > maxOrderLength {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "", false
		}
	}
	return s, true
}

// SpaceRoom is a room of a space hierarchy: its summary and, for a space,
// its children (spec: SpaceHierarchyRoomsChunk).
type SpaceRoom struct {
	RoomSummary
	ChildrenState []SpaceChild `json:"children_state"`
}

// IsSpace reports whether the room is a space-room, whose children the
// hierarchy walks.
func (s SpaceRoom) IsSpace() bool { return s.RoomType == RoomTypeSpace }

// Spaces describes rooms and their space children.
type Spaces interface {
	Summaries
	// SpaceChildren are the room's m.space.child state events, in no
	// particular order (ErrRoomNotFound for a room this server does not
	// know).
	SpaceChildren(ctx context.Context, roomID string) ([]SpaceChild, error)
}

// LinkedChildren keeps the children that link a room (a non-empty via:
// spec, "m.space.child relationship", a child without via is removed from
// the space), only the suggested ones if suggestedOnly, in the spec's
// order.
func LinkedChildren(children []SpaceChild, suggestedOnly bool) []SpaceChild {
	keyed := make([]orderedChild, 0, len(children))
	for _, c := range children {
		sc := c.content()
		if len(sc.Via) == 0 || (suggestedOnly && !sc.Suggested) {
			continue
		}
		o, ok := validOrder(sc.Order)
		keyed = append(keyed, orderedChild{child: c, order: o, hasOrder: ok})
	}
	// Spec, "Ordering of children within a space": children with a valid
	// order first, by order (code points: the keys are ASCII); then by
	// origin_server_ts; then by room ID.
	slices.SortStableFunc(keyed, func(a, b orderedChild) int {
		switch {
		case a.hasOrder && !b.hasOrder:
			return -1
		case !a.hasOrder && b.hasOrder:
			return 1
		case a.hasOrder && a.order != b.order:
			return cmp.Compare(a.order, b.order)
		}
		if c := cmp.Compare(a.child.OriginServerTS, b.child.OriginServerTS); c != 0 {
			return c
		}
		return cmp.Compare(a.child.StateKey, b.child.StateKey)
	})
	out := make([]SpaceChild, len(keyed))
	for i, k := range keyed {
		out[i] = k.child
	}
	return out
}

// orderedChild is a child with its order key read once for sorting.
type orderedChild struct {
	child    SpaceChild
	order    string
	hasOrder bool
}

// OpenToAll reports whether anyone may see a room's summary: public,
// knockable or world-readable rooms (spec: GET /hierarchy, the conditions
// that hold for every requester).
func (s RoomSummary) OpenToAll() bool {
	switch s.JoinRule {
	case spec.Public, spec.Knock, spec.KnockRestricted:
		return true
	}
	return s.WorldReadable
}
