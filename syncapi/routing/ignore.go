package routing

import (
	"context"

	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// withoutIgnored drops from evs the events userID must not see because they
// ignore the sender (spec: client-server API, "Ignoring Users": "Once
// ignored, the client will no longer receive events sent by that user,
// with the exception of state events"). evs itself is left as it is.
func (rt *Routes) withoutIgnored(ctx context.Context, userID string, evs []*storage.Event) ([]*storage.Event, error) {
	if len(evs) == 0 {
		return evs, nil
	}
	ignored, err := rt.ignoredBy(ctx, userID)
	if err != nil || len(ignored) == 0 {
		return evs, err
	}
	out := make([]*storage.Event, 0, len(evs))
	for _, e := range evs {
		if !internal.Hides(ignored, e.Sender, e.StateKey != nil) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ignoredBy is the set of users userID ignores (nil: none).
func (rt *Routes) ignoredBy(ctx context.Context, userID string) (map[string]bool, error) {
	if rt.ignores == nil {
		return nil, nil
	}
	return rt.ignores.Of(ctx, userID)
}

// shownTimeline is what a sync timeline shows of the events read for it:
// those the filter's timeline part keeps (spec: "Filtering", RoomEventFilter)
// and that are not from a user the user ignores.
func (rt *Routes) shownTimeline(ctx context.Context, userID string, evs []*storage.Event, f *Filter) ([]*storage.Event, error) {
	return rt.withoutIgnored(ctx, userID, f.Room.Timeline.apply(evs))
}
