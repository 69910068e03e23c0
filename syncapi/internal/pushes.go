package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/pushrules"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Push rule evaluation at store time (spec: client-server API, "Push
// Notifications"): each timeline event the stream stores is evaluated
// once against the push rules of every local member of its room, in the
// transaction that stores it. The members it notifies get a notification
// row (unread counts, GET /notifications) and the event is announced on
// syncapi.NotificationTopic for the pusher worker. Evaluating at store
// time costs every message its members' evaluation and rows
// (BenchmarkEvaluate1000Members in internal/pushrules, BenchmarkSend1000
// Members in test/e2e), and saves every /sync a recount.

// RulesSource gives a local user's compiled push rules (the user API,
// which caches them until they change), whether they may have pushers
// (only those are announced to the pusher worker), and their account data
// (the users they ignore).
type RulesSource interface {
	CompiledPushRules(ctx context.Context, localpart userapi.Localpart) (*pushrules.Compiled, error)
	MayHavePushers(ctx context.Context, localpart userapi.Localpart) bool
	userapi.AccountData
}

// PushStore is what evaluation reads and writes of the stream's storage.
type PushStore interface {
	CurrentState(ctx context.Context, roomID string) ([]*storage.Event, error)
	InsertNotifications(ctx context.Context, ev storage.NotifyEvent, users []storage.NotifyUser) error
	AfterCommit(ctx context.Context, fn func())
}

// Pushes evaluates stored events for local members. Per room it keeps,
// once read, what conditions need of the room's state: members' display
// names and the power levels; the events it evaluates keep them current.
// Evaluate is called by one goroutine at a time (the stream's writer).
type Pushes struct {
	server string // this server's name: local users end with ":"+server
	rules  RulesSource
	// ignores holds who each local user ignores (their events notify no one
	// ignoring them).
	ignores *Ignores
	store   PushStore
	bus     bus.Bus
	counts  *CountsCache

	rooms map[string]*pushRoom
}

// maxPushRooms bounds the rooms whose state Pushes keeps; past it, the
// cache starts again empty (each room is read back on its next event).
const maxPushRooms = 50_000

// pushRoom is a room's state as conditions see it.
type pushRoom struct {
	joined map[string]bool   // joined members (local and remote)
	names  map[string]string // joined user ID → display name
	pl     *pushrules.PowerLevels
	// creators are the room's creators (m.room.create's sender, and
	// additional_creators in room version 12); v12 says whether creators
	// outrank every level.
	creators []string
	v12      bool
}

// powerLevels are the levels sender_notification_permission reads (spec:
// room versions, authorization rules): without an m.room.power_levels
// event the creator is at 100 and everyone else at 0; in room version 12
// the creators have infinite power.
func (r *pushRoom) powerLevels() *pushrules.PowerLevels {
	pl := r.pl
	if pl == nil {
		pl = &pushrules.PowerLevels{Users: map[string]int64{}}
		if len(r.creators) > 0 && !r.v12 {
			pl.Users[r.creators[0]] = 100
		}
	}
	if r.v12 {
		c := *pl
		c.Creators = r.creators
		pl = &c
	}
	return pl
}

// NewPushes returns an evaluator for the local users of server.
// Counts it changes (the notified users', the sender's) are invalidated in
// counts once stored.
func NewPushes(server string, rules RulesSource, store PushStore, b bus.Bus, counts *CountsCache, ignores *Ignores) *Pushes {
	return &Pushes{server: server, rules: rules, store: store, bus: b, counts: counts, ignores: ignores, rooms: map[string]*pushRoom{}}
}

// Evaluate evaluates ev, just stored at ev.Pos in the caller's transaction
// (ctx), for the room's local members, and writes and announces its
// notifications in that transaction. Every stored event passes here in
// stream order (outliers too: they only update the room's state), so the
// members are those as of ev, even within one batch.
func (p *Pushes) Evaluate(ctx context.Context, ev *storage.Event) error {
	room, err := p.room(ctx, ev.RoomID)
	if err != nil {
		return err
	}
	defer p.update(room, ev)
	if ev.Outlier {
		return nil
	}
	if p.isLocal(ev.Sender) {
		// Their own event reads the room (see syncapi/routing/counts.go).
		p.store.AfterCommit(ctx, func() { p.counts.Invalidate(ev.Sender, ev.RoomID) })
	}
	candidates, err := p.dropIgnored(ctx, ev, p.candidates(ev, room))
	if err != nil {
		return err
	}
	if len(candidates) == 0 {
		return nil
	}
	pev, err := pushrules.NewEvent(ev.JSON)
	if err != nil {
		return nil // not an object: nothing to match
	}
	outcomes, err := p.evaluate(ctx, pev, room, candidates)
	if err != nil {
		return err
	}
	notified := notifiedUsers(outcomes)
	if len(notified) == 0 {
		return nil
	}
	common, users := splitOutcomes(outcomes)
	row := storage.NotifyEvent{
		RoomID: ev.RoomID, Pos: ev.Pos, EventID: ev.ID, Sender: ev.Sender, ThreadID: threadOf(ev.JSON), TS: ev.TS, Common: common,
	}
	if err := p.store.InsertNotifications(ctx, row, users); err != nil {
		return err
	}
	p.store.AfterCommit(ctx, func() {
		for _, n := range notified {
			p.counts.Add(n.UserID, ev.RoomID, row.ThreadID, n.Highlight)
		}
	})
	return p.announce(ctx, ev, room, notified)
}

// Forget drops what is known of a room's state (state resolution changed
// it): it is read again at the room's next event.
func (p *Pushes) Forget(roomID string) { delete(p.rooms, roomID) }

// candidates are the local users ev may notify: joined members other than
// the sender, and a local user it invites (.m.rule.invite_for_me).
func (p *Pushes) candidates(ev *storage.Event, room *pushRoom) []string {
	var out []string
	for u := range room.joined {
		if u != ev.Sender && p.isLocal(u) {
			out = append(out, u)
		}
	}
	if ev.Type == "m.room.member" && ev.Membership == "invite" && ev.StateKey != nil && p.isLocal(*ev.StateKey) {
		out = append(out, *ev.StateKey)
	}
	return out
}

// dropIgnored leaves out the candidates who ignore the sender (spec:
// "Ignoring Users"): their events, state events apart, are never sent to
// them, so nothing of them notifies or counts as unread either; and an
// invite from an ignored user is not sent to the invitee at all.
func (p *Pushes) dropIgnored(ctx context.Context, ev *storage.Event, candidates []string) ([]string, error) {
	invite := ev.Type == "m.room.member" && ev.Membership == "invite" && ev.StateKey != nil
	if ev.StateKey != nil && !invite {
		return candidates, nil
	}
	var firstErr error
	out := slices.DeleteFunc(candidates, func(u string) bool {
		if invite && u != *ev.StateKey {
			return false
		}
		ignored, err := p.ignores.Of(ctx, u)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return ignored[ev.Sender]
	})
	return out, firstErr
}

func (p *Pushes) isLocal(userID string) bool {
	_, ok := userapi.LocalpartOf(userID, p.server)
	return ok
}

// userOutcome is one candidate's outcome.
type userOutcome struct {
	userID string
	storage.Outcome
}

// evaluate runs each candidate's rules.
func (p *Pushes) evaluate(ctx context.Context, pev *pushrules.Event, room *pushRoom, candidates []string) ([]userOutcome, error) {
	pr := &pushrules.Room{MemberCount: len(room.joined), PowerLevels: room.powerLevels()}
	out := make([]userOutcome, 0, len(candidates))
	for _, userID := range candidates {
		compiled, err := p.rules.CompiledPushRules(ctx, p.localpart(userID))
		if err != nil {
			return nil, fmt.Errorf("push rules of %s: %w", userID, err)
		}
		res := compiled.Evaluate(pev, pr, pushrules.User{ID: userID, DisplayName: room.names[userID]})
		o := storage.Outcome{Notify: res.Notify, Highlight: res.Highlight, Actions: res.ActionsJSON}
		if !res.Notify {
			o = storage.Outcome{Actions: json.RawMessage("[]")} // whatever the rule, it does not notify
		}
		out = append(out, userOutcome{userID: userID, Outcome: o})
	}
	return out, nil
}

// outcomeKey tells outcomes apart.
type outcomeKey struct {
	notify, highlight bool
	actions           string
}

func keyOf(o storage.Outcome) outcomeKey { return outcomeKey{o.Notify, o.Highlight, string(o.Actions)} }

// splitOutcomes picks the outcome most candidates share as the room's
// common one and returns the candidates whose outcome differs.
func splitOutcomes(outcomes []userOutcome) (storage.Outcome, []storage.NotifyUser) {
	counts := map[outcomeKey]int{}
	var common storage.Outcome
	best := 0
	for _, o := range outcomes {
		k := keyOf(o.Outcome)
		counts[k]++
		if counts[k] > best {
			best, common = counts[k], o.Outcome
		}
	}
	ck := keyOf(common)
	var users []storage.NotifyUser
	for _, o := range outcomes {
		if keyOf(o.Outcome) != ck {
			users = append(users, storage.NotifyUser{UserID: o.userID, Outcome: o.Outcome})
		}
	}
	return common, users
}

// notifiedUsers are the candidates notified, as the announcement lists
// them.
func notifiedUsers(outcomes []userOutcome) []syncapi.NotifiedUser {
	var out []syncapi.NotifiedUser
	lists := map[string][]json.RawMessage{} // decoded once per distinct set of actions
	for _, o := range outcomes {
		if !o.Notify {
			continue
		}
		list, ok := lists[string(o.Actions)]
		if !ok {
			_ = json.Unmarshal(o.Actions, &list) // encoded from a list when compiled
			lists[string(o.Actions)] = list
		}
		out = append(out, syncapi.NotifiedUser{UserID: o.userID, Actions: list, Highlight: o.Highlight})
	}
	return out
}

// announce publishes the notifications of ev, in the caller's transaction.
// Only users who may have pushers are announced (most have none; in a big
// room the rest would be most of the message), and nothing when none may.
func (p *Pushes) announce(ctx context.Context, ev *storage.Event, room *pushRoom, notified []syncapi.NotifiedUser) error {
	var users []syncapi.NotifiedUser
	for _, n := range notified {
		if p.rules.MayHavePushers(ctx, p.localpart(n.UserID)) {
			users = append(users, n)
		}
	}
	if len(users) == 0 {
		return nil
	}
	body, err := json.Marshal(syncapi.Notification{
		RoomID: ev.RoomID, EventID: ev.ID, Event: ev.JSON, SenderDisplayName: room.names[ev.Sender], Users: users,
	})
	if err != nil {
		return fmt.Errorf("encoding notification: %w", err)
	}
	return p.bus.Publish(ctx, syncapi.NotificationTopic, ev.RoomID, body, nil)
}

// room returns what Pushes knows of a room's state, reading it the first
// time.
func (p *Pushes) room(ctx context.Context, roomID string) (*pushRoom, error) {
	if r, ok := p.rooms[roomID]; ok {
		return r, nil
	}
	state, err := p.store.CurrentState(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("state of %s: %w", roomID, err)
	}
	r := &pushRoom{joined: map[string]bool{}, names: map[string]string{}}
	for _, ev := range state {
		p.update(r, ev)
	}
	if len(p.rooms) >= maxPushRooms {
		p.rooms = map[string]*pushRoom{}
	}
	p.rooms[roomID] = r
	return r, nil
}

// update applies a state event to the room's known state.
func (p *Pushes) update(r *pushRoom, ev *storage.Event) {
	if ev.StateKey == nil || ev.NotCurrent {
		return
	}
	switch ev.Type {
	case "m.room.member":
		user := *ev.StateKey
		if ev.Membership != "join" {
			delete(r.joined, user)
			delete(r.names, user)
			return
		}
		r.joined[user] = true
		if name := displayName(ev.JSON); name != "" {
			r.names[user] = name
		} else {
			delete(r.names, user)
		}
	case "m.room.create":
		r.creators, r.v12 = creatorsOf(ev)
	case "m.room.power_levels":
		if *ev.StateKey != "" {
			return
		}
		var content struct {
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(ev.JSON, &content) != nil {
			return
		}
		pl, err := pushrules.ParsePowerLevels(content.Content)
		if err != nil {
			pl = nil // unreadable: as if none
		}
		r.pl = pl
	}
}

// creatorsOf reads the creators of a room from its m.room.create event,
// and whether its room version gives them infinite power (12).
func creatorsOf(ev *storage.Event) ([]string, bool) {
	var m struct {
		Content struct {
			RoomVersion        string   `json:"room_version"`
			AdditionalCreators []string `json:"additional_creators"`
		} `json:"content"`
	}
	_ = json.Unmarshal(ev.JSON, &m)
	v12 := m.Content.RoomVersion == "12"
	creators := []string{ev.Sender}
	if v12 {
		creators = append(creators, m.Content.AdditionalCreators...)
	}
	return creators, v12
}

// displayName reads a member event's content.displayname.
func displayName(js []byte) string {
	var m struct {
		Content struct {
			DisplayName string `json:"displayname"`
		} `json:"content"`
	}
	_ = json.Unmarshal(js, &m)
	return m.Content.DisplayName
}

// threadOf is the thread an event belongs to (spec: "Threading": an
// m.relates_to of rel_type m.thread names the root), "" for the main
// timeline.
func threadOf(js []byte) string {
	var m struct {
		Content struct {
			RelatesTo struct {
				RelType string `json:"rel_type"`
				EventID string `json:"event_id"`
			} `json:"m.relates_to"`
		} `json:"content"`
	}
	if json.Unmarshal(js, &m) != nil || m.Content.RelatesTo.RelType != "m.thread" {
		return ""
	}
	return m.Content.RelatesTo.EventID
}

// localpart is the localpart of a local user ID.
func (p *Pushes) localpart(userID string) userapi.Localpart {
	lp, _ := userapi.LocalpartOf(userID, p.server)
	return lp
}
