package routing

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/syncapi/internal"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// maxReceiptsPerRoom bounds the receipts of one room in one response (the
// newest are kept): an initial sync of a large room sends the receipts of
// its latest readers, not of every member.
const maxReceiptsPerRoom = 200

// receiptUser is one user's receipt in an m.receipt event (spec:
// "m.receipt").
type receiptUser struct {
	TS       int64  `json:"ts"`
	ThreadID string `json:"thread_id,omitempty"`
}

// addEphemeral puts the typing users and receipts of the user's joined
// rooms that changed after the token (all current ones for an initial
// sync) in the rooms' ephemeral sections. It returns the typing and
// receipt positions for the next token and whether it added anything.
func (rt *Routes) addEphemeral(
	ctx context.Context, resp *Response, dev *userapi.Device, tok syncToken, current map[string]internal.Membership,
) (ty, rc int64, added bool, err error) {
	var joined []string
	for roomID, m := range current {
		if m.Membership == "join" {
			joined = append(joined, roomID)
		}
	}
	tySince, rcSince := tok.ty, max(tok.rc, 0)
	if tok.pos < 0 {
		tySince, rcSince = -1, 0
	}
	ty = rt.eph.Typing.Pos()
	for _, roomID := range joined {
		users, changed := rt.eph.Typing.Since(roomID, tySince)
		if !changed {
			continue
		}
		ev, err := json.Marshal(map[string]any{"type": "m.typing", "content": map[string]any{"user_ids": users}})
		if err != nil {
			return 0, 0, false, err
		}
		rt.ephemeralOf(resp, roomID).Events = append(rt.ephemeralOf(resp, roomID).Events, ev)
		added = true
	}
	rc = rt.eph.Receipts.Pos()
	if rc <= rcSince {
		return ty, max(rc, rcSince), added, nil
	}
	rs, err := rt.store.ReceiptsSince(ctx, joined, dev.UserID, rcSince, rc, maxReceiptsPerRoom)
	if err != nil {
		return 0, 0, false, err
	}
	for roomID, content := range receiptContents(rs) {
		ev, err := json.Marshal(map[string]any{"type": "m.receipt", "content": content})
		if err != nil {
			return 0, 0, false, fmt.Errorf("encode receipts of %s: %w", roomID, err)
		}
		rt.ephemeralOf(resp, roomID).Events = append(rt.ephemeralOf(resp, roomID).Events, ev)
		added = true
	}
	return ty, rc, added, nil
}

// ephemeralOf is a joined room's ephemeral section in resp, adding the
// room when the response has nothing else of it.
func (rt *Routes) ephemeralOf(resp *Response, roomID string) *EventList {
	jr, ok := resp.Rooms.Join[roomID]
	if !ok {
		jr = emptyJoinedRoom()
		resp.Rooms.Join[roomID] = jr
	}
	return &jr.Ephemeral
}

// receiptContents groups receipts, oldest first, into each room's
// m.receipt content: event ID → receipt type → user ID → receipt. When a
// user has an unthreaded and a threaded receipt on the same event, the
// unthreaded one is shown (MSC4102, as clients cannot tell them apart).
func receiptContents(rs []api.Receipt) map[string]map[string]map[string]map[string]receiptUser {
	out := map[string]map[string]map[string]map[string]receiptUser{}
	for _, r := range rs {
		room := out[r.RoomID]
		if room == nil {
			room = map[string]map[string]map[string]receiptUser{}
			out[r.RoomID] = room
		}
		byType := room[r.EventID]
		if byType == nil {
			byType = map[string]map[string]receiptUser{}
			room[r.EventID] = byType
		}
		users := byType[r.Type]
		if users == nil {
			users = map[string]receiptUser{}
			byType[r.Type] = users
		}
		if cur, ok := users[r.UserID]; ok && cur.ThreadID == "" && r.ThreadID != "" {
			continue
		}
		users[r.UserID] = receiptUser{TS: r.TS, ThreadID: r.ThreadID}
	}
	return out
}
