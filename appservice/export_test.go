package appservice

import (
	"context"
	"time"

	"github.com/myelin-im/myelin/appservice/api"
	"github.com/myelin-im/myelin/internal/bus"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
)

// Interested exposes the sender's interest rule to the tests.
func Interested(ctx context.Context, as *api.Registration, reg *api.Registry, rooms Rooms, ev *roomapi.ClientEvent) (bool, error) {
	s := &sender{as: as, reg: reg, rooms: rooms}
	return s.interested(ctx, ev, roomInterest{})
}

// TransactionID exposes the naming of transactions.
func TransactionID(ids ...string) string {
	msgs := make([]*bus.Message, len(ids))
	for i, id := range ids {
		msgs[i] = &bus.Message{ID: id, Published: time.Now()}
	}
	return transactionID(msgs)
}

// TypingView exposes a service's view of typing users.
type TypingView struct{ t typingRooms }

// Apply records a change at now and returns the room's typing users.
func (v *TypingView) Apply(c syncapi.TypingChange, now time.Time) []string { return v.t.apply(c, now) }

// RetryDelay exposes the wait between pushes.
func RetryDelay(attempt int, max time.Duration) time.Duration { return retryDelay(attempt, max) }

// PresenceEvent exposes the m.presence event of an update.
func PresenceEvent(u syncapi.PresenceUpdate, atMS int64) map[string]any {
	return presenceEvent(u, atMS)
}
