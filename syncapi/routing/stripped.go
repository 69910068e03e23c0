package routing

import (
	"context"
	"encoding/json"

	"github.com/myelin-im/myelin/syncapi/storage"
)

// KnockedRoom is a room the user has knocked on: stripped state (spec: GET
// /sync, "Knocked Room"), the user's knock among it.
type KnockedRoom struct {
	KnockState EventList `json:"knock_state"`
}

// strippedEvent is a state event reduced to what stripped state may carry
// (spec: "Stripped state": sender, type, state_key and content).
type strippedEvent struct {
	Content  json.RawMessage `json:"content"`
	Sender   string          `json:"sender"`
	StateKey *string         `json:"state_key"`
	Type     string          `json:"type"`
}

// fullCreateKeys are the keys of the client format a create event keeps in
// stripped state: MSC4311 (spec v1.16: "The m.room.create event is now
// required") gives clients the whole create event, so that they can check
// the room's ID and version from it.
var fullCreateKeys = []string{"content", "sender", "state_key", "type", "event_id", "room_id", "origin_server_ts", "unsigned"}

// stripEvent reduces a state event, in client or federation format, to
// stripped state; the create event keeps its client-format keys. ok is
// false for something that is not a state event.
func stripEvent(raw json.RawMessage) (json.RawMessage, strippedEvent, bool) {
	var s strippedEvent
	if json.Unmarshal(raw, &s) != nil || s.StateKey == nil || s.Type == "" {
		return nil, s, false
	}
	if s.Type != "m.room.create" {
		b, err := json.Marshal(s)
		return b, s, err == nil
	}
	var all map[string]json.RawMessage
	if json.Unmarshal(raw, &all) != nil {
		return nil, s, false
	}
	kept := make(map[string]json.RawMessage, len(fullCreateKeys))
	for _, k := range fullCreateKeys {
		if v, ok := all[k]; ok {
			kept[k] = v
		}
	}
	b, err := json.Marshal(kept)
	return b, s, err == nil
}

// roomStripped is the stripped state of a room for a user invited to or
// knocking on it, as of stream position upto: the room's state this server
// has (stripped types, and member events member picks), then, for a room
// this server is not in, what the other server gave in the user's own
// member event's unsigned[givenKey] (invite_room_state,
// knock_room_state). It returns the sender of the user's member event too.
func (rt *Routes) roomStripped(
	ctx context.Context, roomID, userID string, upto int64, givenKey string, member func(e *storage.Event) bool,
) ([]json.RawMessage, string, error) {
	state, err := rt.store.StateAt(ctx, roomID, upto)
	if err != nil {
		return nil, "", err
	}
	out := []json.RawMessage{}
	seen := map[[2]string]bool{}
	var given []json.RawMessage
	var sender string
	for _, e := range state {
		if e.Type == "m.room.member" && !member(e) || e.Type != "m.room.member" && !strippedTypes[e.Type] {
			continue
		}
		b, s, ok := stripEvent(e.JSON)
		if !ok {
			continue
		}
		if e.Type == "m.room.member" && *s.StateKey == userID {
			sender = s.Sender
			given = unsignedList(e.JSON, givenKey)
		}
		seen[[2]string{s.Type, *s.StateKey}] = true
		out = append(out, b)
	}
	for _, raw := range given {
		b, s, ok := stripEvent(raw)
		if !ok || seen[[2]string{s.Type, *s.StateKey}] {
			continue
		}
		seen[[2]string{s.Type, *s.StateKey}] = true
		out = append(out, b)
	}
	return out, sender, nil
}

// unsignedList reads the list unsigned[key] of an event.
func unsignedList(ev json.RawMessage, key string) []json.RawMessage {
	var e struct {
		Unsigned map[string]json.RawMessage `json:"unsigned"`
	}
	var out []json.RawMessage
	if json.Unmarshal(ev, &e) == nil {
		_ = json.Unmarshal(e.Unsigned[key], &out)
	}
	return out
}

// knockedRoom is the knock section of a room for its knocker: the stripped
// state with the knock itself (other members are not shown to a knocker).
func (rt *Routes) knockedRoom(ctx context.Context, roomID, userID string, upto int64) (*KnockedRoom, error) {
	events, _, err := rt.roomStripped(ctx, roomID, userID, upto, "knock_room_state", func(e *storage.Event) bool {
		return e.StateKey != nil && *e.StateKey == userID
	})
	if err != nil {
		return nil, err
	}
	return &KnockedRoom{KnockState: EventList{Events: events}}, nil
}
