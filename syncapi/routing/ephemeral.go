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
// rooms that changed after the token in the rooms' ephemeral sections: all
// current ones for an initial sync and for rooms joined after the token
// (which come whole, as in an initial sync). It returns the typing and
// receipt positions for the next token and whether it added anything.
func (rt *Routes) addEphemeral(
	ctx context.Context, resp *Response, dev *userapi.Device, tok syncToken, current map[string]internal.Membership,
) (ty, rc int64, added bool, err error) {
	var known, fresh []string
	for roomID, m := range current {
		switch {
		case m.Membership != "join":
		case tok.pos < 0 || m.Pos > tok.pos:
			fresh = append(fresh, roomID)
		default:
			known = append(known, roomID)
		}
	}
	ty = rt.eph.Typing.Pos()
	added = rt.addTyping(resp, known, tok.ty) || added
	added = rt.addTyping(resp, fresh, -1) || added
	rc = max(rt.eph.Receipts.Pos(), tok.rc)
	for _, part := range []struct {
		rooms []string
		since int64
	}{{known, max(tok.rc, 0)}, {fresh, 0}} {
		ok, err := rt.addReceipts(ctx, resp, dev, part.rooms, part.since, rc)
		if err != nil {
			return 0, 0, false, err
		}
		added = added || ok
	}
	return ty, rc, added, nil
}

// addTyping adds the m.typing event of each room whose typing users
// changed after since (since < 0: where anyone is typing).
func (rt *Routes) addTyping(resp *Response, rooms []string, since int64) bool {
	added := false
	for _, roomID := range rooms {
		users, changed := rt.eph.Typing.Since(roomID, since)
		if !changed {
			continue
		}
		ev, _ := json.Marshal(map[string]any{"type": "m.typing", "content": map[string]any{"user_ids": users}})
		eph := rt.ephemeralOf(resp, roomID)
		eph.Events = append(eph.Events, ev)
		added = true
	}
	return added
}

// addReceipts adds the m.receipt event of each room with receipts in
// (since, upto].
func (rt *Routes) addReceipts(ctx context.Context, resp *Response, dev *userapi.Device, rooms []string, since, upto int64) (bool, error) {
	if len(rooms) == 0 || upto <= since {
		return false, nil
	}
	rs, err := rt.store.ReceiptsSince(ctx, rooms, dev.UserID, since, upto, maxReceiptsPerRoom)
	if err != nil {
		return false, err
	}
	added := false
	for roomID, content := range receiptContents(rs) {
		ev, err := json.Marshal(map[string]any{"type": "m.receipt", "content": content})
		if err != nil {
			return false, fmt.Errorf("encode receipts of %s: %w", roomID, err)
		}
		eph := rt.ephemeralOf(resp, roomID)
		eph.Events = append(eph.Events, ev)
		added = true
	}
	return added, nil
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
