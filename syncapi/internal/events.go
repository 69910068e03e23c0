package internal

import (
	"encoding/json"
	"fmt"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// StorageEvent turns a room event (its federation form) into what the sync
// stream stores: the client form and the columns queries use.
func StorageEvent(eventID, roomID string, pdu json.RawMessage) (*storage.Event, error) {
	ce, err := roomapi.Event{ID: eventID, RoomID: roomID, PDU: pdu}.Client()
	if err != nil {
		return nil, fmt.Errorf("unreadable event %s: %w", eventID, err)
	}
	js, err := json.Marshal(ce)
	if err != nil {
		return nil, fmt.Errorf("encoding client event: %w", err)
	}
	ev := &storage.Event{ID: ce.EventID, RoomID: ce.RoomID, Type: ce.Type, Sender: ce.Sender, StateKey: ce.StateKey,
		TS: ce.OriginServerTS, JSON: js}
	if ce.Type == "m.room.member" {
		var m struct {
			Membership string `json:"membership"`
		}
		_ = json.Unmarshal(ce.Content, &m)
		ev.Membership = m.Membership
	}
	return ev, nil
}
