package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// stateEvent is one piece of current state, kept in memory.
type stateEvent struct {
	nid storage.EventNID
	pdu gomatrixserverlib.PDU
}

// room is the in-memory head of a room: its current state, forward
// extremities and depth. Writers of a room hold mu, so a room's events are
// built, authorised and stored one at a time and in order; different rooms
// proceed in parallel.
type room struct {
	mu          sync.Mutex
	nid         storage.RoomNID
	id          string
	version     gomatrixserverlib.IRoomVersion
	snapshot    storage.SnapshotNID
	extremities []string
	depth       int64
	state       map[storage.StateKey]stateEvent
	// last is the newest pipelined write queued for the room (nil when
	// none is queued).
	last *sqlutil.Pending
	// stale means memory may be ahead of the database (a queued write
	// failed): the room is read again before the next event is built.
	stale bool
	// txns remembers the transaction IDs of messages written or queued
	// recently, so that a retry is answered without writing (a retry that
	// reaches the database fails its write, and the writes queued behind
	// it must be built again).
	txns recentTxns
	// servers caches joinedServers while serversOK (cleared whenever a
	// membership in state changes).
	servers   []string
	serversOK bool
	// purged: an admin purged the room; nothing is written to it again
	// (a room of that ID is read anew from storage).
	purged bool
}

// setState sets one key of r's current state. The caller holds r.mu.
func (r *room) setState(k storage.StateKey, e stateEvent) {
	r.state[k] = e
	if k.Type == spec.MRoomMember {
		r.serversOK = false
	}
}

// currentState is r's current state as a state map. The caller holds r.mu.
func (r *room) currentState() stateMap {
	s := make(stateMap, len(r.state))
	for k, e := range r.state {
		s[k] = e.nid
	}
	return s
}

// recentTxns maps transaction keys (sender, device, path) to their events,
// the most recent maxRecentTxns per room.
type recentTxns struct {
	byKey map[string]*txnEntry
	order []string
}

// txnEntry is a transaction's event; p is its write while queued.
type txnEntry struct {
	eventID string
	p       *sqlutil.Pending
}

const maxRecentTxns = 256

func txnMemoryKey(ne newEvent) string { return ne.sender + "\x00" + ne.deviceID + "\x00" + ne.txnKey }

func (t *recentTxns) get(ne newEvent) *txnEntry {
	if ne.txnKey == "" {
		return nil
	}
	return t.byKey[txnMemoryKey(ne)]
}

func (t *recentTxns) put(ne newEvent, e *txnEntry) {
	if ne.txnKey == "" {
		return
	}
	if t.byKey == nil {
		t.byKey = map[string]*txnEntry{}
	}
	k := txnMemoryKey(ne)
	if _, ok := t.byKey[k]; !ok {
		t.order = append(t.order, k)
		if len(t.order) > maxRecentTxns {
			delete(t.byKey, t.order[0])
			t.order = t.order[1:]
		}
	}
	t.byKey[k] = e
}

func (t *recentTxns) drop(ne newEvent, e *txnEntry) {
	if k := txnMemoryKey(ne); t.byKey[k] == e {
		delete(t.byKey, k)
	}
}

var _ gomatrixserverlib.AuthEventProvider = (*room)(nil)

func (r *room) get(evType, stateKey string) (gomatrixserverlib.PDU, error) {
	if e, ok := r.state[storage.StateKey{Type: evType, StateKey: stateKey}]; ok {
		return e.pdu, nil
	}
	return nil, nil
}

// AuthEventProvider over the current state.
func (r *room) Create() (gomatrixserverlib.PDU, error)      { return r.get(spec.MRoomCreate, "") }
func (r *room) JoinRules() (gomatrixserverlib.PDU, error)   { return r.get(spec.MRoomJoinRules, "") }
func (r *room) PowerLevels() (gomatrixserverlib.PDU, error) { return r.get(spec.MRoomPowerLevels, "") }
func (r *room) Member(sk spec.SenderID) (gomatrixserverlib.PDU, error) {
	return r.get(spec.MRoomMember, string(sk))
}
func (r *room) ThirdPartyInvite(sk string) (gomatrixserverlib.PDU, error) {
	return r.get(spec.MRoomThirdPartyInvite, sk)
}
func (r *room) Valid() bool { return true }

// membership returns a user's membership in the current state ("leave" if none).
func (r *room) membership(userID string) string {
	ev, _ := r.Member(spec.SenderID(userID))
	if ev == nil {
		return spec.Leave
	}
	m, err := ev.Membership()
	if err != nil {
		return spec.Leave
	}
	return m
}

// rooms caches room heads. A room is loaded from storage on first use and
// stays in memory; the roomserver is the only writer of rooms, so the cache
// is always current.
type rooms struct {
	store *storage.Storage
	mu    sync.Mutex
	byID  map[string]*room
}

// load returns the room's head, reading it from storage the first time;
// storage.ErrNotFound if the room does not exist.
func (rs *rooms) load(ctx context.Context, roomID string) (*room, error) {
	rs.mu.Lock()
	r, ok := rs.byID[roomID]
	rs.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := rs.read(ctx, roomID)
	if err != nil {
		return nil, err
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if existing, ok := rs.byID[roomID]; ok {
		return existing, nil
	}
	rs.byID[roomID] = r
	return r, nil
}

// reload reads r's head again from storage, in place. The caller holds
// r.mu and no write of r is queued.
func (rs *rooms) reload(ctx context.Context, r *room) error {
	fresh, err := rs.read(ctx, r.id)
	if err != nil {
		return fmt.Errorf("reading room %s again: %w", r.id, err)
	}
	r.snapshot, r.extremities, r.depth, r.state = fresh.snapshot, fresh.extremities, fresh.depth, fresh.state
	r.serversOK = false
	return nil
}

// read reads a room's head from storage.
func (rs *rooms) read(ctx context.Context, roomID string) (*room, error) {
	row, err := rs.store.Room(ctx, roomID)
	if err != nil {
		return nil, err
	}
	ver, err := gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(row.Version))
	if err != nil {
		return nil, fmt.Errorf("room %s has unknown version %q: %w", roomID, row.Version, err)
	}
	entries, err := rs.store.StateAt(ctx, row.SnapshotNID)
	if err != nil {
		return nil, err
	}
	nids := make([]storage.EventNID, len(entries))
	for i, e := range entries {
		nids[i] = e.EventNID
	}
	evs, err := rs.store.EventsByNID(ctx, nids)
	if err != nil {
		return nil, err
	}
	byNID := make(map[storage.EventNID]*storage.Event, len(evs))
	for _, e := range evs {
		byNID[e.NID] = e
	}
	r := &room{nid: row.NID, id: row.ID, version: ver, snapshot: row.SnapshotNID, extremities: row.Extremities,
		depth: row.Depth, state: make(map[storage.StateKey]stateEvent, len(entries))}
	for _, e := range entries {
		ev, ok := byNID[e.EventNID]
		if !ok {
			return nil, fmt.Errorf("room %s: state event %d missing", roomID, e.EventNID)
		}
		pdu, err := ver.NewEventFromTrustedJSONWithEventID(ev.ID, ev.JSON, ev.RedactedBy != "")
		if err != nil {
			return nil, fmt.Errorf("room %s: state event %s unreadable: %w", roomID, ev.ID, err)
		}
		r.state[e.StateKey] = stateEvent{nid: e.EventNID, pdu: pdu}
	}
	return r, nil
}

// drop forgets a purged room.
func (rs *rooms) drop(roomID string) {
	rs.mu.Lock()
	delete(rs.byID, roomID)
	rs.mu.Unlock()
}

// add remembers a room created in this process.
func (rs *rooms) add(r *room) {
	rs.mu.Lock()
	rs.byID[r.id] = r
	rs.mu.Unlock()
}

// creators are the room's creators (room version 12, MSC4289): the create
// event's sender and its content's additional_creators. The caller holds
// r.mu.
func (r *room) creators() []string {
	create, ok := r.state[storage.StateKey{Type: spec.MRoomCreate}]
	if !ok {
		return nil
	}
	out := []string{string(create.pdu.SenderID())}
	var c struct {
		AdditionalCreators []string `json:"additional_creators"`
	}
	if json.Unmarshal(create.pdu.Content(), &c) == nil {
		out = append(out, c.AdditionalCreators...)
	}
	return out
}
