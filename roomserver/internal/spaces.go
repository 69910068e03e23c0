package internal

import (
	"context"

	"github.com/myelin-im/myelin/roomserver/api"
)

var _ api.Spaces = (*Roomserver)(nil)

// SpaceChildren implements api.Spaces from the room's current state.
func (rs *Roomserver) SpaceChildren(ctx context.Context, roomID string) ([]api.SpaceChild, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []api.SpaceChild
	for k, e := range r.state {
		if k.Type != api.MSpaceChild {
			continue
		}
		out = append(out, api.SpaceChild{
			Type:           k.Type,
			StateKey:       k.StateKey,
			Sender:         string(e.pdu.SenderID()),
			Content:        e.pdu.Content(),
			OriginServerTS: int64(e.pdu.OriginServerTS()),
		})
	}
	return out, nil
}
