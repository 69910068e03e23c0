package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"sort"

	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// memberships answers the requesting user's membership of a room at a
// stream position (spec: client-server API, ClientEvent
// unsigned.membership: "the room membership of the user making the
// request, at the time of the event", including changes the event made;
// "leave" before any). The current membership answers for positions after
// it without a query; earlier positions read the user's membership events
// once.
type memberships struct {
	rt             *Routes
	roomID, userID string
	cur            string // current membership, "" when unknown
	curPos         int64
	history        []storage.MembershipChange
	loaded         bool
}

func (rt *Routes) membershipsOf(roomID, userID string) *memberships {
	m := &memberships{rt: rt, roomID: roomID, userID: userID}
	if cur, ok := rt.notifier.MembershipOf(userID, roomID); ok {
		m.cur, m.curPos = cur.Membership, cur.Pos
	}
	return m
}

// visibleUpTo is the last position the user may see of the room: all of
// it while joined (or when the membership is not known here), else up to
// their current membership event (a leave, a ban).
func (m *memberships) visibleUpTo() int64 {
	if m.cur == "" || m.cur == "join" {
		return math.MaxInt64
	}
	return m.curPos
}

func (m *memberships) at(ctx context.Context, pos int64) string {
	if m.cur != "" && pos >= m.curPos {
		return m.cur
	}
	if !m.loaded {
		m.loaded = true
		h, err := m.rt.store.MembershipHistory(ctx, m.roomID, m.userID)
		if err != nil {
			return ""
		}
		m.history = h
	}
	i := sort.Search(len(m.history), func(i int) bool { return m.history[i].Pos > pos })
	if i == 0 {
		return "leave"
	}
	return m.history[i-1].Membership
}

// timelineEvents is clientEvents for timeline events: each also carries
// unsigned.membership and its bundled aggregations (bundle.go).
func (rt *Routes) timelineEvents(ctx context.Context, roomID string, evs []*storage.Event, dev *userapi.Device) []json.RawMessage {
	return rt.timelineEventsWith(ctx, roomID, evs, dev, nil)
}

// timelineEventsWith is timelineEvents with the aggregations computed
// already (rels; nil: computed here).
func (rt *Routes) timelineEventsWith(
	ctx context.Context, roomID string, evs []*storage.Event, dev *userapi.Device, rels bundles,
) []json.RawMessage {
	if dev == nil {
		if rels == nil {
			rels = rt.bundleRelations(ctx, evs, dev, math.MaxInt64)
		}
		out := clientEvents(evs, dev)
		for i, e := range evs {
			out[i] = withRelations(out[i], rels[e.ID])
		}
		return out
	}
	out := make([]json.RawMessage, 0, len(evs))
	ms := rt.membershipsOf(roomID, dev.UserID)
	if rels == nil {
		rels = rt.bundleRelations(ctx, evs, dev, ms.visibleUpTo())
	}
	for _, e := range evs {
		out = append(out, withRelations(withMembership(clientJSON(e, dev), ms.at(ctx, e.Pos)), rels[e.ID]))
	}
	return out
}

// withMembership adds unsigned.membership to a client event's JSON: spliced
// in when the event has no unsigned object (the common case, no decoding),
// else set in it.
func withMembership(js json.RawMessage, membership string) json.RawMessage {
	if membership == "" {
		return js
	}
	if !bytes.Contains(js, []byte(`"unsigned"`)) {
		end := bytes.LastIndexByte(js, '}')
		if end < 0 {
			return js
		}
		m, _ := json.Marshal(membership)
		out := make([]byte, 0, len(js)+len(m)+32)
		out = append(out, js[:end]...)
		if bytes.IndexByte(js[:end], ':') >= 0 {
			out = append(out, ',')
		}
		out = append(out, `"unsigned":{"membership":`...)
		out = append(out, m...)
		out = append(out, '}', '}')
		return out
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(js, &obj) != nil {
		return js
	}
	unsigned := map[string]json.RawMessage{}
	if raw, ok := obj["unsigned"]; ok {
		_ = json.Unmarshal(raw, &unsigned)
	}
	unsigned["membership"], _ = json.Marshal(membership)
	obj["unsigned"], _ = json.Marshal(unsigned)
	b, err := json.Marshal(obj)
	if err != nil {
		return js
	}
	return b
}
