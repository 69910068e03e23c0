package internal

import (
	"context"
	"errors"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// CurrentState implements api.Roomserver.
func (rs *Roomserver) CurrentState(ctx context.Context, roomID string) ([]api.Event, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]api.Event, 0, len(r.state))
	for _, e := range r.state {
		out = append(out, api.Event{ID: e.pdu.EventID(), RoomID: r.id, PDU: e.pdu.JSON()})
	}
	return out, nil
}

// StateEvent implements api.Roomserver.
func (rs *Roomserver) StateEvent(ctx context.Context, roomID, eventType, stateKey string) (api.Event, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return api.Event{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.state[storage.StateKey{Type: eventType, StateKey: stateKey}]
	if !ok {
		return api.Event{}, api.ErrEventNotFound
	}
	return api.Event{ID: e.pdu.EventID(), RoomID: r.id, PDU: e.pdu.JSON()}, nil
}

// Membership implements api.Roomserver.
func (rs *Roomserver) Membership(ctx context.Context, roomID, userID string) (string, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.membership(userID), nil
}

// Forgotten reports whether a user has forgotten a room they left.
func (rs *Roomserver) Forgotten(ctx context.Context, roomID, userID string) (bool, error) {
	return rs.store.Forgotten(ctx, roomID, userID)
}

// JoinedRooms implements api.Roomserver.
func (rs *Roomserver) JoinedRooms(ctx context.Context, userID string) ([]string, error) {
	return rs.store.RoomsOf(ctx, userID, "join")
}

// Members implements api.Roomserver.
func (rs *Roomserver) Members(ctx context.Context, roomID, membership string) ([]string, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return rs.store.MembersOf(ctx, r.nid, membership)
}

// Event implements api.Roomserver.
func (rs *Roomserver) Event(ctx context.Context, eventID string) (api.Event, error) {
	e, err := rs.store.EventByID(ctx, eventID)
	if errors.Is(err, storage.ErrNotFound) {
		return api.Event{}, api.ErrEventNotFound
	}
	if err != nil {
		return api.Event{}, err
	}
	r, err := rs.store.RoomByNID(ctx, e.RoomNID)
	if err != nil {
		return api.Event{}, err
	}
	return api.Event{ID: e.ID, RoomID: r.ID, PDU: e.JSON}, nil
}

// LatestEventID returns the room's newest event (its forward extremity), so
// readers of the output log can wait until they have it.
func (rs *Roomserver) LatestEventID(ctx context.Context, roomID string) (string, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.extremities) == 0 {
		return "", api.ErrEventNotFound
	}
	return r.extremities[len(r.extremities)-1], nil
}
