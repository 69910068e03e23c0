package api

import (
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Event is a room event as the roomserver hands it out: its ID and room
// (neither is always inside the PDU: event IDs are hashes from room version
// 3, room IDs of v12 create events are derived) and the PDU JSON.
type Event struct {
	ID     string          `json:"event_id"`
	RoomID string          `json:"room_id"`
	PDU    json.RawMessage `json:"pdu"`
}

// ClientEvent is an event in the client-server API's format (spec:
// "Room Event Format" / ClientEvent): the PDU without its federation fields.
type ClientEvent struct {
	Content        json.RawMessage `json:"content"`
	EventID        string          `json:"event_id"`
	OriginServerTS int64           `json:"origin_server_ts"`
	RoomID         string          `json:"room_id,omitempty"`
	Sender         string          `json:"sender"`
	StateKey       *string         `json:"state_key,omitempty"`
	Type           string          `json:"type"`
	Unsigned       json.RawMessage `json:"unsigned,omitempty"`
	Redacts        string          `json:"redacts,omitempty"`
}

// pduFields are the PDU fields a client sees.
type pduFields struct {
	Content        json.RawMessage `json:"content"`
	OriginServerTS int64           `json:"origin_server_ts"`
	Sender         string          `json:"sender"`
	StateKey       *string         `json:"state_key"`
	Type           string          `json:"type"`
	Unsigned       json.RawMessage `json:"unsigned"`
	Redacts        string          `json:"redacts"`
}

// Client returns the event in client format.
func (e Event) Client() (ClientEvent, error) {
	var f pduFields
	if err := json.Unmarshal(e.PDU, &f); err != nil {
		return ClientEvent{}, fmt.Errorf("event %s: %w", e.ID, err)
	}
	if len(f.Content) == 0 {
		f.Content = json.RawMessage("{}")
	}
	if f.Redacts == "" && f.Type == "m.room.redaction" {
		// Room version 11 moved redacts into the content; clients read both.
		var c struct {
			Redacts string `json:"redacts"`
		}
		_ = json.Unmarshal(f.Content, &c)
		f.Redacts = c.Redacts
	}
	return ClientEvent{Content: f.Content, EventID: e.ID, OriginServerTS: f.OriginServerTS, RoomID: e.RoomID,
		Sender: f.Sender, StateKey: f.StateKey, Type: f.Type, Unsigned: f.Unsigned, Redacts: f.Redacts}, nil
}

// UserIDForSender maps a room's sender IDs to user IDs, for
// gomatrixserverlib's auth and signature checks: they are the same in
// every room version Myelin creates or joins (no pseudonymous IDs).
func UserIDForSender(_ spec.RoomID, sender spec.SenderID) (*spec.UserID, error) {
	return spec.NewUserID(string(sender), true)
}
