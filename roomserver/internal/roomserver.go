// Package internal implements the roomserver: it builds, signs and
// authorises events with gomatrixserverlib, stores them with their state,
// and appends them to the output log in the same transaction.
package internal

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// Options configure the roomserver.
type Options struct {
	ServerName         spec.ServerName
	KeyID              gomatrixserverlib.KeyID
	PrivateKey         ed25519.PrivateKey
	DefaultRoomVersion gomatrixserverlib.RoomVersion
}

// Roomserver implements api.Roomserver.
type Roomserver struct {
	opts  Options
	store *storage.Storage
	bus   bus.Bus
	rooms *rooms
	log   logrus.FieldLogger
	now   func() time.Time
}

var _ api.Roomserver = (*Roomserver)(nil)

// New returns a roomserver over store that publishes its output log on b.
func New(opts Options, store *storage.Storage, b bus.Bus, log logrus.FieldLogger) *Roomserver {
	if opts.DefaultRoomVersion == "" {
		// Spec (rooms): servers SHOULD use room version 12 by default.
		opts.DefaultRoomVersion = gomatrixserverlib.RoomVersionV12
	}
	return &Roomserver{opts: opts, store: store, bus: b, log: log, now: time.Now,
		rooms: &rooms{store: store, byID: map[string]*room{}}}
}

// userIDForSender maps sender IDs to user IDs: they are the same in every
// room version Myelin creates (no pseudonymous IDs).
func userIDForSender(_ spec.RoomID, sender spec.SenderID) (*spec.UserID, error) {
	return spec.NewUserID(string(sender), true)
}

// newEvent is an event to build in a room.
type newEvent struct {
	sender   string
	evType   string
	stateKey *string
	content  any
	redacts  string
	txnID    string
	// txnKey scopes txnID to the request path (spec: "Transaction
	// identifiers": same device, same endpoint path).
	txnKey   string
	deviceID string
	// redactTarget is the event a redaction removes the content of.
	redactTarget *storage.Event
}

// build makes, signs and authorises the next event of r from the current
// state. The caller holds r.mu.
func (rs *Roomserver) build(r *room, ne newEvent) (gomatrixserverlib.PDU, error) {
	content, err := json.Marshal(ne.content)
	if err != nil {
		return nil, &api.BadRequestError{Reason: "content is not JSON"}
	}
	if raw, ok := ne.content.(json.RawMessage); ok {
		content = raw
	}
	prev := r.extremities
	if prev == nil {
		prev = []string{} // the create event: an empty list, not null
	}
	proto := gomatrixserverlib.ProtoEvent{
		SenderID:   ne.sender,
		RoomID:     r.id,
		Type:       ne.evType,
		StateKey:   ne.stateKey,
		Content:    content,
		Redacts:    ne.redacts,
		PrevEvents: prev,
		Depth:      r.depth + 1,
	}
	builder := r.version.NewEventBuilderFromProtoEvent(&proto)
	if err := builder.AddAuthEvents(r); err != nil {
		return nil, &api.BadRequestError{Reason: err.Error()}
	}
	ev, err := builder.Build(rs.now(), rs.opts.ServerName, rs.opts.KeyID, rs.opts.PrivateKey)
	if err != nil {
		return nil, &api.BadRequestError{Reason: err.Error()}
	}
	if err := gomatrixserverlib.Allowed(ev, r, userIDForSender); err != nil {
		var na *gomatrixserverlib.NotAllowed
		if errors.As(err, &na) {
			return nil, api.Forbidden("%s", na.Message)
		}
		return nil, api.Forbidden("%s", err.Error())
	}
	if err := r.checkUnban(ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// commit stores ev as the next event of r, with the state after it, the new
// head and the output log entry, in one transaction; then updates r. The
// caller holds r.mu. Only after commit returns is the event acknowledged.
func (rs *Roomserver) commit(ctx context.Context, r *room, ev gomatrixserverlib.PDU, ne newEvent) error {
	var nid storage.EventNID
	snapshot := r.snapshot
	var key storage.StateKey
	var redactedJSON []byte
	// Group commit: events of different rooms committing at the same time
	// share one transaction and one fsync; each still commits whole or not
	// at all (its own savepoint), and only then is it acknowledged.
	err := rs.store.WithRoomGroupTx(ctx, r.id, func(ctx context.Context) error {
		var err error
		var stored bool
		nid, stored, err = rs.store.InsertEvent(ctx, &storage.Event{
			ID: ev.EventID(), RoomNID: r.nid, Type: ev.Type(), StateKey: ev.StateKey(), Sender: string(ev.SenderID()),
			Depth: ev.Depth(), OriginServerTS: int64(ev.OriginServerTS()), SnapshotBefore: r.snapshot, JSON: ev.JSON(),
		})
		if err != nil {
			return err
		}
		if !stored {
			return fmt.Errorf("event %s already stored", ev.EventID())
		}
		if sk := ev.StateKey(); sk != nil {
			key = storage.StateKey{Type: ev.Type(), StateKey: *sk}
			snapshot, err = rs.store.CreateSnapshot(ctx, r.nid, r.snapshot, []storage.StateEntry{{StateKey: key, EventNID: nid}})
			if err != nil {
				return err
			}
			if ev.Type() == spec.MRoomMember {
				m, err := ev.Membership()
				if err != nil {
					return err
				}
				if err := rs.store.SetMembership(ctx, r.nid, *sk, m, nid); err != nil {
					return err
				}
			}
		}
		if err := rs.store.SetRoomHead(ctx, r.nid, snapshot, []string{ev.EventID()}, ev.Depth()); err != nil {
			return err
		}
		if ne.redactTarget != nil {
			if redactedJSON, err = r.version.RedactEventJSON(ne.redactTarget.JSON); err != nil {
				return fmt.Errorf("redacting %s: %w", ne.redactTarget.ID, err)
			}
			if err := rs.store.SetRedacted(ctx, ne.redactTarget.ID, ev.EventID(), redactedJSON); err != nil {
				return err
			}
		}
		if ne.txnKey != "" {
			got, err := rs.store.InsertTxn(ctx, ne.sender, ne.deviceID, ne.txnKey, ev.EventID(), rs.now().UnixMilli())
			if err != nil {
				return err
			}
			if got != ev.EventID() {
				return errTxnRace{eventID: got}
			}
		}
		oe := api.OutputEvent{Type: api.OutputTypeNewRoomEvent, RoomID: r.id, RoomVersion: string(r.version.Version()),
			EventID: ev.EventID(), Event: ev.JSON(), TxnID: ne.txnID, DeviceID: ne.deviceID}
		if ne.redactTarget != nil {
			oe.RedactedEventID, oe.RedactedEvent = ne.redactTarget.ID, redactedJSON
		}
		out, err := json.Marshal(oe)
		if err != nil {
			return err
		}
		return rs.bus.Publish(ctx, api.OutputTopic, r.id, out, nil)
	})
	if err != nil {
		return err
	}
	r.snapshot, r.extremities, r.depth = snapshot, []string{ev.EventID()}, ev.Depth()
	if ev.StateKey() != nil {
		r.state[key] = stateEvent{nid: nid, pdu: ev}
	}
	if t := ne.redactTarget; t != nil && t.StateKey != nil {
		k := storage.StateKey{Type: t.Type, StateKey: *t.StateKey}
		if cur, ok := r.state[k]; ok && cur.pdu.EventID() == t.ID {
			if pdu, err := r.version.NewEventFromTrustedJSONWithEventID(t.ID, redactedJSON, true); err == nil {
				r.state[k] = stateEvent{nid: cur.nid, pdu: pdu}
			} else {
				// Memory and database disagree now: reload the room next time.
				rs.rooms.forget(r.id)
			}
		}
	}
	rs.log.WithFields(logrus.Fields{"room_id": r.id, "event_id": ev.EventID(), "type": ev.Type()}).Debug("event stored")
	return nil
}

// txnKey scopes a client transaction ID to its endpoint: the spec treats a
// request as a retransmission only on the same path. JSON keeps the parts
// apart whatever characters they hold.
func txnKey(parts ...string) string {
	b, _ := json.Marshal(parts)
	return string(b)
}

// errTxnRace reports that another request with the same transaction ID won.
type errTxnRace struct{ eventID string }

func (e errTxnRace) Error() string { return "transaction already used for " + e.eventID }

// send builds and commits one event in r, taking r.mu.
func (rs *Roomserver) send(ctx context.Context, r *room, ne newEvent) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return rs.sendLocked(ctx, r, ne)
}

// sendLocked builds and commits one event in r; the caller holds r.mu. A
// transaction ID that another request used first returns that request's
// event.
func (rs *Roomserver) sendLocked(ctx context.Context, r *room, ne newEvent) (string, error) {
	ev, err := rs.build(r, ne)
	if err != nil {
		// A retry of a transaction that succeeded returns its event even
		// if the sender could not send it now (left, kicked, ...).
		if ne.txnKey != "" {
			if id, terr := rs.store.TxnEvent(ctx, ne.sender, ne.deviceID, ne.txnKey); terr == nil {
				return id, nil
			}
		}
		return "", err
	}
	if err := rs.commit(ctx, r, ev, ne); err != nil {
		var race errTxnRace
		if errors.As(err, &race) {
			return race.eventID, nil
		}
		return "", err
	}
	return ev.EventID(), nil
}

// loadRoom returns a room's head, or api.ErrRoomNotFound.
func (rs *Roomserver) loadRoom(ctx context.Context, roomID string) (*room, error) {
	r, err := rs.rooms.load(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, api.ErrRoomNotFound
	}
	return r, err
}
