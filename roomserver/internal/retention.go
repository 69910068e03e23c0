package internal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// purgeBatchSize bounds the events one purge transaction strips, so a
// large purge never holds the writer for long.
const purgeBatchSize = 200

// LegalHold implements api.Retention.
func (rs *Roomserver) LegalHold(ctx context.Context, roomID string) (*api.LegalHold, error) {
	h, err := rs.store.LegalHold(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &api.LegalHold{RoomID: h.RoomID, Reason: h.Reason, By: h.By, Since: h.Since}, nil
}

// PlaceLegalHold implements api.Retention. The hold is durable once this
// returns.
func (rs *Roomserver) PlaceLegalHold(ctx context.Context, h api.LegalHold) (api.LegalHold, error) {
	if _, err := rs.store.Room(ctx, h.RoomID); errors.Is(err, storage.ErrNotFound) {
		return h, api.ErrRoomNotFound
	} else if err != nil {
		return h, err
	}
	if h.Since == 0 {
		h.Since = rs.now().UnixMilli()
	}
	row, err := rs.store.PutLegalHold(ctx, storage.LegalHold{RoomID: h.RoomID, Reason: h.Reason, By: h.By, Since: h.Since})
	if err != nil {
		return h, err
	}
	rs.log.WithFields(logrus.Fields{"room_id": h.RoomID, "held_by": row.By}).Info("legal hold placed")
	return api.LegalHold{RoomID: row.RoomID, Reason: row.Reason, By: row.By, Since: row.Since}, nil
}

// ReleaseLegalHold implements api.Retention.
func (rs *Roomserver) ReleaseLegalHold(ctx context.Context, roomID string) (bool, error) {
	released, err := rs.store.DeleteLegalHold(ctx, roomID)
	if released {
		rs.log.WithField("room_id", roomID).Info("legal hold released")
	}
	return released, err
}

// PurgeHistory implements api.Retention: it checks the request, records
// the purge and runs it in the background (Synapse's API answers at once
// with a purge ID to poll).
func (rs *Roomserver) PurgeHistory(ctx context.Context, req api.PurgeHistoryRequest) (string, error) {
	room, err := rs.store.Room(ctx, req.RoomID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", api.ErrRoomNotFound
	}
	if err != nil {
		return "", err
	}
	b := storage.PurgeBounds{BeforeTS: req.UpToTS}
	if req.UpToEventID != "" {
		ev, err := rs.store.EventByID(ctx, req.UpToEventID)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && ev.RoomNID != room.NID) {
			return "", api.ErrEventNotFound
		}
		if err != nil {
			return "", err
		}
		// Synapse: the event, and others at its depth, are kept.
		b.BeforeDepth = ev.Depth
	}
	if b.BeforeTS <= 0 && b.BeforeDepth <= 0 {
		return "", &api.BadRequestError{Reason: "give an event ID or purge_up_to_ts to purge up to"}
	}
	if h, err := rs.LegalHold(ctx, req.RoomID); err != nil {
		return "", err
	} else if h != nil {
		return "", api.ErrLegalHold
	}
	p := storage.Purge{ID: newPurgeID(), RoomID: req.RoomID, Status: api.PurgeActive}
	if err := rs.store.InsertPurge(ctx, p, rs.now().UnixMilli()); err != nil {
		return "", err
	}
	go rs.runPurge(context.WithoutCancel(ctx), room, b, req.DeleteLocalEvents, p)
	return p.ID, nil
}

// runPurge purges and records how it ended.
func (rs *Roomserver) runPurge(ctx context.Context, room *storage.Room, b storage.PurgeBounds, deleteLocal bool, p storage.Purge) {
	log := rs.log.WithFields(logrus.Fields{"room_id": room.ID, "purge_id": p.ID})
	n, err := rs.purgeHistory(ctx, room, b, deleteLocal)
	p.Purged, p.Status = n, api.PurgeComplete
	if err != nil {
		p.Status, p.Error = api.PurgeFailed, err.Error()
		log.WithError(err).Warn("purge failed")
	} else {
		log.WithField("purged", n).Info("purge complete")
	}
	if err := rs.store.UpdatePurge(ctx, p, rs.now().UnixMilli()); err != nil {
		log.WithError(err).Error("could not record the end of a purge")
	}
}

// PurgeStatus implements api.Retention.
func (rs *Roomserver) PurgeStatus(ctx context.Context, purgeID string) (api.PurgeStatus, error) {
	p, err := rs.store.PurgeByID(ctx, purgeID)
	if errors.Is(err, storage.ErrNotFound) {
		return api.PurgeStatus{}, api.ErrPurgeNotFound
	}
	if err != nil {
		return api.PurgeStatus{}, err
	}
	return api.PurgeStatus{ID: p.ID, RoomID: p.RoomID, Status: p.Status, Purged: p.Purged, Error: p.Error}, nil
}

// newPurgeID is an opaque, unguessable purge ID.
func newPurgeID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// purgeHistory strips the content of the room's message events within b,
// batch by batch, and returns how many it purged. It stops with
// api.ErrLegalHold as soon as the room is held.
func (rs *Roomserver) purgeHistory(ctx context.Context, room *storage.Room, b storage.PurgeBounds, deleteLocal bool) (int64, error) {
	version, err := gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(room.Version))
	if err != nil {
		return 0, fmt.Errorf("purging %s: %w", room.ID, err)
	}
	var after storage.EventNID
	var total int64
	for {
		cands, err := rs.store.PurgeCandidates(ctx, room.NID, b, after, purgeBatchSize)
		if err != nil || len(cands) == 0 {
			return total, err
		}
		after = cands[len(cands)-1].NID
		n, err := rs.purgeBatch(ctx, room.ID, version, cands, deleteLocal)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// purgeBatch strips a batch of events and publishes their IDs, in one
// transaction that also reads the room's hold and forward extremities: a
// hold placed before it commits stops it, and the events new ones will
// reference are kept whole (as is the room's latest event, always one of
// them).
func (rs *Roomserver) purgeBatch(
	ctx context.Context, roomID string, version gomatrixserverlib.IRoomVersion, cands []storage.PurgeCandidate, deleteLocal bool,
) (int, error) {
	var ids []string
	err := rs.store.WithTx(ctx, func(ctx context.Context) error {
		ids = ids[:0]
		if _, err := rs.store.LegalHold(ctx, roomID); err == nil {
			return api.ErrLegalHold
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		cur, err := rs.store.Room(ctx, roomID)
		if err != nil {
			return err
		}
		keep := make(map[string]bool, len(cur.Extremities))
		for _, id := range cur.Extremities {
			keep[id] = true
		}
		for _, c := range cands {
			if keep[c.ID] || (!deleteLocal && rs.isLocalUser(c.Sender)) {
				continue
			}
			js, err := version.RedactEventJSON(c.JSON)
			if err != nil {
				return fmt.Errorf("stripping %s: %w", c.ID, err)
			}
			if err := rs.store.MarkPurged(ctx, c.NID, js); err != nil {
				return err
			}
			ids = append(ids, c.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		out, err := json.Marshal(api.OutputPurgedEvents{Type: api.OutputTypePurgedEvents, RoomID: roomID, EventIDs: ids})
		if err != nil {
			return err
		}
		return rs.bus.Publish(ctx, api.OutputTopic, roomID, out, nil)
	})
	if err != nil {
		return 0, err
	}
	return len(ids), nil
}

// RunRetention implements api.Retention: every room whose policy has a
// max_lifetime loses the message events older than it, except rooms
// under legal hold. A room that fails is logged and the run goes on.
func (rs *Roomserver) RunRetention(ctx context.Context) (api.RetentionRun, error) {
	var run api.RetentionRun
	if !rs.opts.Retention.Enabled {
		return run, api.ErrRetentionOff
	}
	ids, err := rs.store.RoomIDs(ctx)
	if err != nil {
		return run, err
	}
	now := rs.now()
	var errs []error
	for _, id := range ids {
		n, held, err := rs.expireRoom(ctx, id, now)
		run.Purged += max(n, 0)
		switch {
		case err != nil:
			rs.log.WithError(err).WithField("room_id", id).Warn("retention: purging the room failed")
			errs = append(errs, err)
		case n < 0: // no max_lifetime
		case held:
			run.Rooms++
			run.Held++
		default:
			run.Rooms++
		}
	}
	return run, errors.Join(errs...)
}

// expireRoom purges one room's expired events: n < 0 when its policy has
// no max_lifetime, held when a legal hold kept it.
func (rs *Roomserver) expireRoom(ctx context.Context, roomID string, now time.Time) (n int64, held bool, err error) {
	life, err := rs.maxLifetime(ctx, roomID)
	if err != nil || life <= 0 {
		return -1, false, err
	}
	if h, err := rs.LegalHold(ctx, roomID); err != nil || h != nil {
		return 0, h != nil, err
	}
	room, err := rs.store.Room(ctx, roomID)
	if err != nil {
		return 0, false, err
	}
	n, err = rs.purgeHistory(ctx, room, storage.PurgeBounds{BeforeTS: now.Add(-life).UnixMilli()}, true)
	if errors.Is(err, api.ErrLegalHold) { // placed while it ran
		return n, true, nil
	}
	if n > 0 {
		rs.log.WithFields(logrus.Fields{"room_id": roomID, "purged": n}).Info("retention: purged expired events")
	}
	return n, false, err
}
