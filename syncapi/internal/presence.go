package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// Presence is the sync component's presence (spec: client-server API,
// "Presence"): local users' presence decided by the tracker, other
// servers' users' presence as their servers send it, both stored with a
// position of the presence stream, whose changes wake the users sharing a
// room with the user concerned. When disabled it stores, announces and
// delivers nothing.
type Presence struct {
	Enabled  bool
	store    *storage.Storage
	bus      bus.Bus
	notifier *Notifier
	Tracker  *PresenceTracker
	pos      atomic.Int64
	now      func() time.Time
	log      logrus.FieldLogger
}

// NewPresence loads the presence stream's position and the local users
// who were not offline. now is the clock (time.Now outside tests).
func NewPresence(
	ctx context.Context, enabled bool, store *storage.Storage, b bus.Bus, n *Notifier, now func() time.Time, log logrus.FieldLogger,
) (*Presence, error) {
	p := &Presence{Enabled: enabled, store: store, bus: b, notifier: n, now: now, log: log}
	p.Tracker = NewPresenceTracker(now, p.writeLocal)
	if !enabled {
		return p, nil
	}
	pos, err := store.PresencePos(ctx)
	if err != nil {
		return nil, err
	}
	p.pos.Store(pos)
	rows, err := store.LocalPresence(ctx)
	if err != nil {
		return nil, err
	}
	states := make(map[string]PresenceState, len(rows))
	for _, r := range rows {
		states[r.UserID] = stateOf(r)
	}
	p.Tracker.Load(states)
	return p, nil
}

func stateOf(r storage.Presence) PresenceState {
	return PresenceState{Presence: r.Presence, StatusMsg: r.StatusMsg, LastActive: time.UnixMilli(r.LastActiveTS),
		CurrentlyActive: r.CurrentlyActive}
}

// Pos is the presence stream's latest position.
func (p *Presence) Pos() int64 { return p.pos.Load() }

// writeLocal stores a local user's new presence and, in the same
// transaction, announces it on api.PresenceTopic (for other servers);
// then it wakes the users who share a room with the user.
func (p *Presence) writeLocal(ctx context.Context, userID string, st PresenceState) error {
	row := storage.Presence{UserID: userID, Presence: st.Presence, StatusMsg: st.StatusMsg,
		LastActiveTS: st.LastActive.UnixMilli(), CurrentlyActive: st.CurrentlyActive, Local: true}
	body, err := json.Marshal(api.PresenceUpdate{UserID: userID, Presence: st.Presence, StatusMsg: st.StatusMsg,
		LastActiveTS: row.LastActiveTS, CurrentlyActive: st.CurrentlyActive})
	if err != nil {
		return err
	}
	var pos int64
	err = p.store.WithTx(ctx, func(ctx context.Context) error {
		if pos, err = p.store.SetPresence(ctx, row); err != nil {
			return err
		}
		return p.bus.Publish(ctx, api.PresenceTopic, userID, body, nil)
	})
	if err != nil {
		return fmt.Errorf("syncapi: presence of %s: %w", userID, err)
	}
	p.advance(userID, pos)
	return nil
}

// StoreRemote stores another server's user's presence, when it differs
// visibly from what is stored, and wakes the local users sharing a room
// with them.
func (p *Presence) StoreRemote(ctx context.Context, u api.PresenceUpdate) error {
	if !p.Enabled || !api.ValidPresence(u.Presence) {
		return nil
	}
	old, err := p.store.PresenceOf(ctx, []string{u.UserID})
	if err != nil {
		return err
	}
	row := storage.Presence{UserID: u.UserID, Presence: u.Presence, StatusMsg: u.StatusMsg, LastActiveTS: u.LastActiveTS,
		CurrentlyActive: u.CurrentlyActive && u.Presence == api.PresenceOnline}
	if len(old) == 1 && !old[0].Local && !stateOf(old[0]).visiblyDiffers(stateOf(row)) {
		return nil
	}
	pos, err := p.store.SetPresence(ctx, row)
	if err != nil {
		return err
	}
	p.advance(u.UserID, pos)
	return nil
}

// advance moves the stream's position to pos (never back) and wakes the
// users sharing a room with userID.
func (p *Presence) advance(userID string, pos int64) {
	for {
		cur := p.pos.Load()
		if pos <= cur || p.pos.CompareAndSwap(cur, pos) {
			break
		}
	}
	p.notifier.WakePeers(userID)
}

// presenceContent is an m.presence event's content (spec: "m.presence";
// also the answer of GET /presence/{userId}/status).
type presenceContent struct {
	Presence        string  `json:"presence"`
	LastActiveAgo   *int64  `json:"last_active_ago,omitempty"`
	StatusMsg       *string `json:"status_msg,omitempty"`
	CurrentlyActive *bool   `json:"currently_active,omitempty"`
}

type presenceEvent struct {
	Type    string          `json:"type"`
	Sender  string          `json:"sender"`
	Content presenceContent `json:"content"`
}

// Event is the m.presence event of a stored presence.
func (p *Presence) Event(r storage.Presence) json.RawMessage {
	b, _ := json.Marshal(presenceEvent{Type: "m.presence", Sender: r.UserID, Content: p.content(r)})
	return b
}

// Content is the content of a stored presence's m.presence event, for
// GET /presence/{userId}/status.
func (p *Presence) Content(r storage.Presence) any { return p.content(r) }

// content counts last_active_ago now, a local user's last activity being
// the tracker's, which moves without writes; currently_active is sent only
// when online (spec: "Last active ago").
func (p *Presence) content(r storage.Presence) presenceContent {
	last := r.LastActiveTS
	if r.Local {
		if st, ok := p.Tracker.Get(r.UserID); ok && st.LastActive.UnixMilli() > last {
			last = st.LastActive.UnixMilli()
		}
	}
	c := presenceContent{Presence: r.Presence, StatusMsg: r.StatusMsg}
	if last > 0 {
		ago := max(p.now().UnixMilli()-last, 0)
		c.LastActiveAgo = &ago
	}
	if r.Presence == api.PresenceOnline {
		active := r.CurrentlyActive
		c.CurrentlyActive = &active
	}
	return c
}

// Run sweeps the tracker's timers every SweepInterval until ctx ends.
func (p *Presence) Run(ctx context.Context) {
	if !p.Enabled {
		return
	}
	t := time.NewTicker(SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := p.Tracker.Sweep(ctx); err != nil && ctx.Err() == nil {
				p.log.WithError(err).Warn("presence: storing a timer's change failed; retrying at the next sweep")
			}
		}
	}
}
