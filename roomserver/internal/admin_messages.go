package internal

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// errBadToken: a from or to that is not a token of this API.
var errBadToken = &api.BadRequestError{Reason: "invalid pagination token"}

// RoomMessages implements api.AdminRooms. Tokens are positions between
// events in the order this server stored them ("r" and an event NID: the
// page continues after that event, or before it backwards).
//
// NOTSPEC: Synapse pages in topological order and takes /sync's tokens
// too; this API has its own tokens and pages in storage order, in which
// history backfilled later comes after the events this server saw live.
func (rs *Roomserver) RoomMessages(ctx context.Context, req api.RoomMessagesRequest) (api.RoomMessages, error) {
	r, err := rs.loadRoom(ctx, req.RoomID)
	if err != nil {
		return api.RoomMessages{}, err
	}
	from, err := parseToken(req.From, req.Backwards)
	if err != nil {
		return api.RoomMessages{}, err
	}
	to, err := parseToken(req.To, !req.Backwards)
	if err != nil {
		return api.RoomMessages{}, err
	}
	lo, hi := from, to // forwards: after lo, up to hi
	if req.Backwards {
		lo, hi = to, from
	}
	out := api.RoomMessages{Chunk: []json.RawMessage{}, Start: formatToken(from)}
	for len(out.Chunk) < req.Limit {
		evs, err := rs.store.TimelineEvents(ctx, r.nid, lo, hi+1, req.Backwards, req.Limit)
		if err != nil {
			return out, err
		}
		if len(evs) == 0 {
			out.End = "" // the room's end: no End token
			return out, nil
		}
		for _, e := range evs {
			if len(out.Chunk) == req.Limit {
				break
			}
			if err := rs.addMessage(&out, r.id, e, req.Filter); err != nil {
				return out, err
			}
			lo, hi = advance(lo, hi, e.NID, req.Backwards)
		}
		out.End = formatToken(lo)
		if req.Backwards {
			out.End = formatToken(hi)
		}
		if len(evs) < req.Limit {
			out.End = "" // the room's end
			return out, nil
		}
	}
	return out, nil
}

// advance moves the page's bounds past nid.
func advance(lo, hi, nid storage.EventNID, backwards bool) (storage.EventNID, storage.EventNID) {
	if backwards {
		return lo, nid - 1
	}
	return nid, hi
}

// addMessage appends e in client format when the filter keeps it.
func (rs *Roomserver) addMessage(out *api.RoomMessages, roomID string, e *storage.Event, keep func(api.ClientEvent) bool) error {
	ce, err := api.Event{ID: e.ID, RoomID: roomID, PDU: e.JSON}.Client()
	if err != nil {
		return err
	}
	if keep != nil && !keep(ce) {
		return nil
	}
	js, err := json.Marshal(ce)
	if err != nil {
		return err
	}
	out.Chunk = append(out.Chunk, js)
	return nil
}

// parseToken reads a token; "" is the start (0) or, high, the end.
func parseToken(tok string, high bool) (storage.EventNID, error) {
	if tok == "" {
		if high {
			return math.MaxInt64 - 1, nil
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(tok, "r"), 10, 64)
	if !strings.HasPrefix(tok, "r") || err != nil || n < 0 || n > math.MaxInt64-1 {
		return 0, errBadToken
	}
	return storage.EventNID(n), nil
}

func formatToken(n storage.EventNID) string { return "r" + strconv.FormatInt(int64(n), 10) }
