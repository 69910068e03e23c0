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
	"reflect"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// Options configure the roomserver.
type Options struct {
	ServerName         spec.ServerName
	KeyID              gomatrixserverlib.KeyID
	PrivateKey         ed25519.PrivateKey
	DefaultRoomVersion gomatrixserverlib.RoomVersion
	// Inviter has invites of users of other servers signed by their server
	// (nil: without federation, such invites are refused).
	Inviter fedapi.RemoteInviter
	// Retention is the message retention configuration (RunRetention).
	Retention config.Retention
	// RedactionRetention is how long the originals of redacted events are
	// kept for admins' exports (0: forever).
	RedactionRetention time.Duration
}

// Roomserver implements api.RoomserverAPI.
type Roomserver struct {
	opts  Options
	store *storage.Storage
	bus   bus.Bus
	rooms *rooms
	log   logrus.FieldLogger
	now   func() time.Time
	// lastOf remembers, per local user, the newest event they sent or
	// that changed their membership (userID -> event ID), so that a read
	// right after a write can wait for the sync stream to have it.
	lastOf sync.Map
}

var _ api.RoomserverAPI = (*Roomserver)(nil)

// New returns a roomserver over store that publishes its output log on b.
func New(opts Options, store *storage.Storage, b bus.Bus, log logrus.FieldLogger) *Roomserver {
	if opts.DefaultRoomVersion == "" {
		// Spec (rooms): servers SHOULD use room version 12 by default.
		opts.DefaultRoomVersion = api.DefaultRoomVersion
	}
	return &Roomserver{opts: opts, store: store, bus: b, log: log, now: time.Now,
		rooms: &rooms{store: store, byID: map[string]*room{}}}
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
	// ts, when not 0, is the event's origin_server_ts (ms), set by an
	// application service; 0 is now.
	ts int64
	// redactTarget is the event a redaction removes the content of.
	redactTarget *storage.Event
	// delivered: the room's other servers have the event already.
	delivered bool
	// servers are the servers with a joined member before the event: its
	// destinations, fixed when it is built (not when the federation
	// component reads it, by when a server may have joined after it).
	servers []string
}

// build makes, signs and authorises the next event of r from the current
// state. The caller holds r.mu.
func (rs *Roomserver) build(r *room, ne newEvent) (gomatrixserverlib.PDU, error) {
	if r.purged {
		return nil, api.ErrRoomNotFound
	}
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
	ev, err := builder.Build(ne.buildTime(rs.now()), rs.opts.ServerName, rs.opts.KeyID, rs.opts.PrivateKey)
	if err != nil {
		return nil, &api.BadRequestError{Reason: err.Error()}
	}
	if err := authAllowed(ev, r); err != nil {
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

// written is what writing an event stored.
type written struct {
	nid          storage.EventNID
	snapshot     storage.SnapshotNID // the state after the event
	redactedJSON []byte              // the redacted target's new JSON, if any
}

// eventRow is the stored form of p, an event of the room roomNID, before
// the caller adds what it knows of it (the state before it, rejected,
// outlier).
func eventRow(roomNID storage.RoomNID, p gomatrixserverlib.PDU) *storage.Event {
	return &storage.Event{
		ID:             p.EventID(),
		RoomNID:        roomNID,
		Type:           p.Type(),
		StateKey:       p.StateKey(),
		Sender:         string(p.SenderID()),
		Depth:          p.Depth(),
		OriginServerTS: int64(p.OriginServerTS()),
		JSON:           p.JSON(),
	}
}

// write stores ev as the next event of r on top of the state snapshot
// before: the event, the state after it, the new head, the transaction ID
// and the output log entry. It runs inside the caller's (group)
// transaction, may run more than once, and reads only r's fields that
// never change (nid, id, version).
func (rs *Roomserver) write(
	ctx context.Context,
	r *room,
	before storage.SnapshotNID,
	ev gomatrixserverlib.PDU,
	ne newEvent,
) (written, error) {
	w := written{snapshot: before}
	row := eventRow(r.nid, ev)
	row.SnapshotBefore = before
	nid, stored, err := rs.store.InsertEvent(ctx, row)
	if err != nil {
		return w, err
	}
	if !stored {
		return w, fmt.Errorf("event %s already stored", ev.EventID())
	}
	w.nid = nid
	if sk := ev.StateKey(); sk != nil {
		key := storage.StateKey{Type: ev.Type(), StateKey: *sk}
		if w.snapshot, err = rs.store.CreateSnapshot(ctx, r.nid, before, []storage.StateEntry{{StateKey: key, EventNID: nid}}); err != nil {
			return w, err
		}
		if err := rs.store.SetSnapshotAfter(ctx, nid, w.snapshot); err != nil {
			return w, err
		}
		if ev.Type() == spec.MRoomMember {
			m, err := ev.Membership()
			if err != nil {
				return w, err
			}
			if err := rs.store.SetMembership(ctx, r.nid, *sk, m, nid); err != nil {
				return w, err
			}
			if err := rs.noteDirectInvite(ctx, ev, ""); err != nil {
				return w, err
			}
		}
	}
	if err := rs.store.SetRoomHead(ctx, r.nid, w.snapshot, []string{ev.EventID()}, ev.Depth()); err != nil {
		return w, err
	}
	if ne.redactTarget != nil {
		if w.redactedJSON, err = r.version.RedactEventJSON(ne.redactTarget.JSON); err != nil {
			return w, fmt.Errorf("redacting %s: %w", ne.redactTarget.ID, err)
		}
		if err := rs.store.SetRedacted(ctx, ne.redactTarget.ID, ev.EventID(), w.redactedJSON, rs.now().UnixMilli()); err != nil {
			return w, err
		}
	}
	if ne.txnKey != "" {
		got, err := rs.store.InsertTxn(ctx, ne.sender, ne.deviceID, ne.txnKey, ev.EventID(), rs.now().UnixMilli())
		if err != nil {
			return w, err
		}
		if got != ev.EventID() {
			return w, errTxnRace{eventID: got}
		}
	}
	oe := api.OutputEvent{RoomID: r.id, RoomVersion: string(r.version.Version()),
		EventID: ev.EventID(), Event: ev.JSON(), TxnID: ne.txnID, DeviceID: ne.deviceID, Delivered: ne.delivered,
		Servers: ne.servers}
	if ne.redactTarget != nil {
		oe.RedactedEventID, oe.RedactedEvent = ne.redactTarget.ID, w.redactedJSON
	}
	rs.noteUsers(ctx, ev)
	return w, rs.publish(ctx, oe)
}

// publish puts a new room event on the output log, keyed by its room.
func (rs *Roomserver) publish(ctx context.Context, oe api.OutputEvent) error {
	oe.Type = api.OutputTypeNewRoomEvent
	out, err := json.Marshal(oe)
	if err != nil {
		return err
	}
	return rs.bus.Publish(ctx, api.OutputTopic, oe.RoomID, out, nil)
}

// noteUsers records ev, once committed, as the newest event of its local
// sender and, for a membership, of its local target (LastEventOf).
func (rs *Roomserver) noteUsers(ctx context.Context, ev gomatrixserverlib.PDU) {
	id, sender, target := ev.EventID(), string(ev.SenderID()), ""
	if ev.Type() == spec.MRoomMember && ev.StateKey() != nil {
		target = *ev.StateKey()
	}
	rs.store.AfterCommit(ctx, func() {
		for _, u := range []string{sender, target} {
			if u != "" && rs.isLocalUser(u) {
				rs.lastOf.Store(u, id)
			}
		}
	})
}

// LastEventOf implements api.Roomserver: the newest event a local user
// sent, or that changed their membership, since this process started
// ("" if none).
func (rs *Roomserver) LastEventOf(userID string) string {
	if v, ok := rs.lastOf.Load(userID); ok {
		return v.(string)
	}
	return ""
}

// commit stores ev as the next event of r and waits for it to commit, then
// updates r. The caller holds r.mu and has settled r's pipelined writes.
// Only after commit returns is the event acknowledged.
//
// Group commit: events of different rooms committing at the same time
// share one transaction and one fsync; each still commits whole or not at
// all, and only then is it acknowledged.
func (rs *Roomserver) commit(ctx context.Context, r *room, ev gomatrixserverlib.PDU, ne newEvent) error {
	var w written
	err := rs.store.WithRoomGroupTx(ctx, r.id, func(ctx context.Context) error {
		var err error
		w, err = rs.write(ctx, r, r.snapshot, ev, ne)
		return err
	})
	if err != nil {
		return err
	}
	r.snapshot, r.extremities, r.depth = w.snapshot, []string{ev.EventID()}, ev.Depth()
	if sk := ev.StateKey(); sk != nil {
		r.setState(storage.StateKey{Type: ev.Type(), StateKey: *sk}, stateEvent{nid: w.nid, pdu: ev})
	}
	if t := ne.redactTarget; t != nil {
		r.followRedaction(&appliedRedaction{target: t, redactedJSON: w.redactedJSON})
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

// send builds and commits one event in r, taking r.mu. Message events
// (no state key, not redactions) are pipelined: r.mu is held only to build
// the event and queue its write, so the next message of the room is built
// while this one commits; state events wait for the room's queued writes.
func (rs *Roomserver) send(ctx context.Context, r *room, ne newEvent) (string, error) {
	if ne.stateKey != nil || ne.redactTarget != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		return rs.sendLocked(ctx, r, ne)
	}
	for attempt := 0; ; attempt++ {
		r.mu.Lock()
		if e := r.txns.get(ne); e != nil {
			// A retry of a transaction this process wrote or is writing.
			p, id := e.p, e.eventID
			r.mu.Unlock()
			if p == nil || p.Wait() == nil { // answered at once once committed
				return id, nil
			}
			r.mu.Lock()
			r.txns.drop(ne, e)
			r.mu.Unlock()
			continue
		}
		if r.stale {
			if err := rs.settle(ctx, r); err != nil {
				r.mu.Unlock()
				return "", err
			}
		}
		ev, err := rs.build(r, ne)
		if err != nil {
			r.mu.Unlock()
			return rs.retried(ctx, ne, err)
		}
		ne.servers = r.joinedServers()
		// EventID is computed and cached on first use: do it here, before
		// the write's goroutine reads it.
		id := ev.EventID()
		before := r.snapshot
		p := rs.store.SubmitRoomGroupTx(ctx, r.id, r.last, func(ctx context.Context) error {
			_, err := rs.write(ctx, r, before, ev, ne)
			return err
		})
		// The room's head moves on now, for the next event to build on; if
		// the write fails, the room is read again from the database.
		r.last, r.extremities, r.depth = p, []string{id}, ev.Depth()
		entry := &txnEntry{eventID: id, p: p}
		r.txns.put(ne, entry)
		r.mu.Unlock()
		err = p.Wait()
		if err == nil {
			return id, nil
		}
		r.mu.Lock()
		r.stale = true
		r.txns.drop(ne, entry)
		var race errTxnRace
		if errors.As(err, &race) {
			// Written before this process remembered it (a restart).
			r.txns.put(ne, &txnEntry{eventID: race.eventID})
			r.mu.Unlock()
			return race.eventID, nil
		}
		r.mu.Unlock()
		// Built on an event that failed to commit: never stored, so build
		// it again on the room as the database has it.
		if errors.Is(err, sqlutil.ErrDependency) && attempt < maxRebuilds {
			continue
		}
		return "", err
	}
}

// maxRebuilds bounds how often a message is built again because an event
// before it failed to commit.
const maxRebuilds = 20

// settle waits for r's queued writes and, if one failed (or memory and
// database may disagree for another reason), reads the room again. The
// caller holds r.mu.
func (rs *Roomserver) settle(ctx context.Context, r *room) error {
	if r.last != nil {
		if err := r.last.Wait(); err != nil {
			r.stale = true
		}
		r.last = nil
	}
	if !r.stale {
		return nil
	}
	if err := rs.rooms.reload(ctx, r); err != nil {
		return err
	}
	r.stale = false
	return nil
}

// sendLocked builds and commits one event in r; the caller holds r.mu. A
// transaction ID that another request used first returns that request's
// event.
func (rs *Roomserver) sendLocked(ctx context.Context, r *room, ne newEvent) (string, error) {
	if err := rs.settle(ctx, r); err != nil {
		return "", err
	}
	if id := r.sameState(ne); id != "" {
		return id, nil
	}
	ev, err := rs.build(r, ne)
	if err != nil {
		return rs.retried(ctx, ne, err)
	}
	ne.servers = r.joinedServers()
	if ev, err = rs.remoteInvite(ctx, r, ev); err != nil {
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

// sameState returns the current state event ne would repeat (same type,
// state key, sender and content), or "": setting the same state twice gives
// the same event, as Synapse does, rather than a new one with no effect.
// The caller holds r.mu.
func (r *room) sameState(ne newEvent) string {
	if ne.stateKey == nil || ne.redactTarget != nil {
		return ""
	}
	cur, ok := r.state[storage.StateKey{Type: ne.evType, StateKey: *ne.stateKey}]
	if !ok || string(cur.pdu.SenderID()) != ne.sender {
		return ""
	}
	content, err := json.Marshal(ne.content)
	if raw, ok := ne.content.(json.RawMessage); ok {
		content, err = raw, nil
	}
	if err != nil {
		return ""
	}
	var a, b any
	if json.Unmarshal(content, &a) != nil || json.Unmarshal(cur.pdu.Content(), &b) != nil || !reflect.DeepEqual(a, b) {
		return ""
	}
	return cur.pdu.EventID()
}

// retried answers an event that could not be built: a retry of a
// transaction that succeeded returns its event even if the sender could not
// send it now (left, kicked, ...); anything else gets err.
func (rs *Roomserver) retried(ctx context.Context, ne newEvent, err error) (string, error) {
	if ne.txnKey != "" {
		if id, terr := rs.store.TxnEvent(ctx, ne.sender, ne.deviceID, ne.txnKey); terr == nil {
			return id, nil
		}
	}
	return "", err
}

// loadRoom returns a room's head, or api.ErrRoomNotFound.
func (rs *Roomserver) loadRoom(ctx context.Context, roomID string) (*room, error) {
	r, err := rs.rooms.load(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, api.ErrRoomNotFound
	}
	return r, err
}

// buildTime is the origin_server_ts of the event: ts when an application
// service set one, and now otherwise.
func (ne *newEvent) buildTime(now time.Time) time.Time {
	if ne.ts != 0 {
		return time.UnixMilli(ne.ts)
	}
	return now
}
