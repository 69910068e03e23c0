package internal

import (
	"cmp"
	"context"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"

	"github.com/myelin-im/myelin/roomserver/storage"
)

// StoreHistory implements api.Federation. Backfilled events (spec:
// server-server API, "Backfilling and retrieving missing events") are older
// than anything this server has of the room: they change neither its
// current state nor its forward extremities, so they are stored as
// outliers. Each is checked against its auth events (spec: "Checks
// performed on receipt of a PDU", check 4); one that fails is stored as
// rejected and not returned. The state before each event is not computed:
// NOTSPEC: checks 5 and 6 (the state before the event, the current state)
// are skipped for history, as Synapse does for backfilled events whose
// state it cannot cheaply get; the event's own server and the room's
// servers have accepted it.
func (rs *Roomserver) StoreHistory(ctx context.Context, roomID string, pdus []gomatrixserverlib.PDU) ([]gomatrixserverlib.PDU, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	var out []gomatrixserverlib.PDU
	err = rs.store.WithTx(ctx, func(ctx context.Context) error {
		var err error
		out, err = rs.storeHistory(ctx, r, pdus)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// storeHistory is StoreHistory in the caller's transaction.
func (rs *Roomserver) storeHistory(ctx context.Context, r *room, pdus []gomatrixserverlib.PDU) ([]gomatrixserverlib.PDU, error) {
	roomID := r.id
	if len(pdus) == 0 {
		return nil, nil
	}
	sorted := make([]gomatrixserverlib.PDU, 0, len(pdus))
	var ids []string
	for _, p := range pdus {
		if p.RoomID().String() != roomID || p.Version() != r.version.Version() {
			continue
		}
		sorted = append(sorted, p)
		ids = append(ids, p.EventID())
		ids = append(ids, p.AuthEventIDs()...)
	}
	slices.SortStableFunc(sorted, func(a, b gomatrixserverlib.PDU) int { return cmp.Compare(a.Depth(), b.Depth()) })
	stored, err := rs.store.EventsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	known := make(map[string]*storage.Event, len(stored))
	for _, e := range stored {
		if e.RoomNID == r.nid {
			known[e.ID] = e
		}
	}
	var out []gomatrixserverlib.PDU
	{
		passed := map[string]gomatrixserverlib.PDU{}
		for _, p := range sorted {
			if e, ok := known[p.EventID()]; ok {
				if !e.Rejected {
					passed[p.EventID()] = p
					out = append(out, p)
				}
				continue
			}
			if _, ok := passed[p.EventID()]; ok {
				continue // listed twice
			}
			auth, complete, rejected := rs.historyAuthEvents(r, p, known, passed)
			if !complete {
				continue
			}
			if !rejected {
				provider, err := gomatrixserverlib.NewAuthEvents(auth)
				rejected = err != nil || authAllowed(p, provider) != nil
			}
			row := eventRow(r.nid, p)
			row.Outlier, row.Rejected = true, rejected
			if _, _, err := rs.store.InsertEvent(ctx, row); err != nil {
				return nil, err
			}
			if !rejected {
				passed[p.EventID()] = p
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// historyAuthEvents gathers an event's auth events from the store and the
// events of the same backfill that passed: complete is false when one is
// unknown, rejected is true when one was rejected.
func (rs *Roomserver) historyAuthEvents(r *room, p gomatrixserverlib.PDU, known map[string]*storage.Event,
	passed map[string]gomatrixserverlib.PDU) (auth []gomatrixserverlib.PDU, complete, rejected bool) {
	for _, id := range p.AuthEventIDs() {
		if a, ok := passed[id]; ok {
			auth = append(auth, a)
			continue
		}
		e, ok := known[id]
		if !ok {
			return nil, false, false
		}
		if e.Rejected {
			return nil, true, true
		}
		a, err := rs.parse(r, []*storage.Event{e})
		if err != nil {
			return nil, true, true
		}
		auth = append(auth, a[0])
	}
	return auth, true, false
}
