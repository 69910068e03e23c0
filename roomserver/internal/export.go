package internal

import (
	"context"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// maxExportPage bounds one page of ExportEvents.
const maxExportPage = 10_000

// ExportRoomInfo implements api.Export.
func (rs *Roomserver) ExportRoomInfo(ctx context.Context, roomID string) (api.ExportRoom, error) {
	room, err := rs.store.Room(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return api.ExportRoom{}, api.ErrRoomNotFound
	}
	if err != nil {
		return api.ExportRoom{}, err
	}
	n, err := rs.store.CountEvents(ctx, room.NID)
	if err != nil {
		return api.ExportRoom{}, err
	}
	return api.ExportRoom{RoomID: roomID, Version: room.Version, Events: n}, nil
}

// ExportEvents implements api.Export: one page of stored rows, with the
// kept originals of the redacted ones.
func (rs *Roomserver) ExportEvents(
	ctx context.Context, roomID string, after api.ExportPosition, limit int, sender string,
) ([]api.ExportEvent, error) {
	room, err := rs.store.Room(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, api.ErrRoomNotFound
	}
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > maxExportPage {
		limit = maxExportPage
	}
	rows, err := rs.store.EventsInDAGOrder(ctx, room.NID,
		storage.Position{Depth: after.Depth, NID: storage.EventNID(after.NID)}, limit, sender)
	if err != nil {
		return nil, err
	}
	var redacted []storage.EventNID
	for _, e := range rows {
		if e.RedactedBy != "" {
			redacted = append(redacted, e.NID)
		}
	}
	originals, err := rs.store.RedactedOriginals(ctx, redacted, rs.retentionCutoff())
	if err != nil {
		return nil, err
	}
	out := make([]api.ExportEvent, len(rows))
	for i, e := range rows {
		out[i] = exportEvent(e, originals[e.NID])
	}
	return out, nil
}

func exportEvent(e *storage.Event, o storage.Original) api.ExportEvent {
	return api.ExportEvent{
		Position: api.ExportPosition{Depth: e.Depth, NID: int64(e.NID)},
		ID:       e.ID, Type: e.Type, StateKey: e.StateKey, Sender: e.Sender, Depth: e.Depth,
		OriginServerTS: e.OriginServerTS, Outlier: e.Outlier, Rejected: e.Rejected,
		RedactedBy: e.RedactedBy, PDU: e.JSON, Original: o.JSON, RedactedTS: o.RedactedTS,
	}
}

// retentionCutoff is the oldest redaction time whose original is still
// kept (ms; 0 when kept forever), so an export never shows an original
// past retention that the pruner has not reached yet.
func (rs *Roomserver) retentionCutoff() int64 {
	if rs.opts.RedactionRetention <= 0 {
		return 0
	}
	return rs.now().Add(-rs.opts.RedactionRetention).UnixMilli()
}

// RoomsOfUser implements api.Export.
func (rs *Roomserver) RoomsOfUser(ctx context.Context, userID string) ([]api.UserRoom, error) {
	rooms, err := rs.store.RoomsOfUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]api.UserRoom, len(rooms))
	for i, r := range rooms {
		out[i] = api.UserRoom{RoomID: r.RoomID, Membership: r.Membership}
	}
	return out, nil
}

// PruneRedactedOriginals implements api.Export; with no retention period
// (keep forever) it removes nothing.
func (rs *Roomserver) PruneRedactedOriginals(ctx context.Context) (int64, error) {
	cutoff := rs.retentionCutoff()
	if cutoff == 0 {
		return 0, nil
	}
	n, err := rs.store.PruneRedactedOriginals(ctx, cutoff)
	if err != nil {
		return 0, fmt.Errorf("roomserver: %w", err)
	}
	return n, nil
}
