package internal

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/myelin-im/myelin/syncapi/storage"
)

// Unread notification counts (spec: client-server API, "Receiving
// notifications" and the default push rules in "Push Rules").
//
// A user has read a room up to the later of their latest read receipt
// (m.read or m.read.private, unthreaded or for the main timeline) and their
// own latest event there (spec: "Receiving notifications": a user's own
// event counts as read; clients also mark it).
//
// NOTSPEC: until push rules exist, the counts follow the default rules with
// no user overrides, and threaded receipts for a thread root do not clear
// that thread's events from the room's counts. Counted: m.room.message (except
// m.notice), m.room.encrypted and m.call.invite events of other users;
// highlighted: those whose m.mentions lists the user. A recount from the
// database looks at the newest maxUnreadScan events at most.

// maxUnreadScan bounds the events one recount reads.
const maxUnreadScan = 1000

// UnreadStore is the storage the counts are recomputed from.
type UnreadStore interface {
	LastSentPos(ctx context.Context, roomID, userID string, upto int64) (int64, error)
	ReadUpTo(ctx context.Context, roomID, userID string) (int64, error)
	RoomEvents(ctx context.Context, roomID string, from, to int64, limit int, backwards bool) ([]*storage.Event, error)
}

// Unread caches each user's counts per room at a stream position and
// brings them forward from the recent-events rings.
type Unread struct {
	store  UnreadStore
	recent *Recent

	mu      sync.Mutex
	entries map[unreadKey]unreadEntry
	// forgets counts Forget calls: counts computed across one are not
	// cached, as they may predate the receipt.
	forgets uint64
}

type unreadKey struct{ room, user string }

type unreadEntry struct {
	pos                     int64
	notifications, mentions int
}

// NewUnread returns an empty cache.
func NewUnread(store UnreadStore, recent *Recent) *Unread {
	return &Unread{store: store, recent: recent, entries: map[unreadKey]unreadEntry{}}
}

// Counts returns userID's notification and highlight counts in roomID as of
// stream position upto.
func (u *Unread) Counts(ctx context.Context, roomID, userID string, upto int64) (notifications, highlights int, err error) {
	k := unreadKey{roomID, userID}
	u.mu.Lock()
	e, ok := u.entries[k]
	gen := u.forgets
	u.mu.Unlock()
	if ok && e.pos >= upto {
		// Current (or newer, from another device's sync): good enough.
		return e.notifications, e.mentions, nil
	}
	if ok {
		// Memory holds every event of the room after e.pos, or says not.
		if evs, covered := u.recent.Events(roomID, e.pos, upto, recentPerRoom); covered {
			slices.Reverse(evs) // oldest first
			for _, ev := range evs {
				e = e.apply(ev, userID)
			}
			e.pos = upto
			u.store1(k, e, gen)
			return e.notifications, e.mentions, nil
		}
	}
	last, err := u.readPoint(ctx, roomID, userID, upto)
	if err != nil {
		return 0, 0, err
	}
	evs, err := u.store.RoomEvents(ctx, roomID, last, upto, maxUnreadScan, true)
	if err != nil {
		return 0, 0, err
	}
	e = unreadEntry{pos: upto}
	for i := len(evs) - 1; i >= 0; i-- {
		e = e.apply(evs[i], userID)
	}
	u.store1(k, e, gen)
	return e.notifications, e.mentions, nil
}

// readPoint is the stream position up to which userID has read roomID, as
// of upto.
func (u *Unread) readPoint(ctx context.Context, roomID, userID string, upto int64) (int64, error) {
	last, err := u.store.LastSentPos(ctx, roomID, userID, upto)
	if err != nil {
		return 0, err
	}
	read, err := u.store.ReadUpTo(ctx, roomID, userID)
	if err != nil {
		return 0, err
	}
	return max(last, min(read, upto)), nil
}

// Forget drops a user's cached counts in a room (a new read receipt): the
// next Counts recounts from the read point.
func (u *Unread) Forget(roomID, userID string) {
	u.mu.Lock()
	delete(u.entries, unreadKey{roomID, userID})
	u.forgets++
	u.mu.Unlock()
}

func (u *Unread) store1(k unreadKey, e unreadEntry, gen uint64) {
	u.mu.Lock()
	if cur, ok := u.entries[k]; u.forgets == gen && (!ok || cur.pos < e.pos) {
		u.entries[k] = e
	}
	u.mu.Unlock()
}

// apply counts one more event.
func (e unreadEntry) apply(ev *storage.Event, userID string) unreadEntry {
	if ev.Sender == userID {
		return unreadEntry{pos: ev.Pos}
	}
	e.pos = ev.Pos
	notify, highlight := notifies(ev, userID)
	if notify {
		e.notifications++
		if highlight {
			e.mentions++
		}
	}
	return e
}

// notifies applies the default push rules that concern room events: the
// override rules .m.rule.suppress_notices and .m.rule.is_user_mention and
// the underride rules .m.rule.call, .m.rule.message and .m.rule.encrypted.
func notifies(ev *storage.Event, userID string) (notify, highlight bool) {
	p := ev.Push
	if p == nil {
		p = Summarize(ev.Type, ev.JSON)
	}
	return p.Notify, p.Notify && slices.Contains(p.Mentions, userID)
}

// Summarize reads what the default push rules need from an event's client
// JSON.
func Summarize(evType string, js []byte) *storage.PushSummary {
	switch evType {
	case "m.room.message", "m.room.encrypted", "m.call.invite":
	default:
		return &storage.PushSummary{}
	}
	var body struct {
		Content struct {
			MsgType  string `json:"msgtype"`
			Mentions *struct {
				UserIDs []string `json:"user_ids"`
			} `json:"m.mentions"`
		} `json:"content"`
		Unsigned struct {
			RedactedBecause json.RawMessage `json:"redacted_because"`
		} `json:"unsigned"`
	}
	if err := json.Unmarshal(js, &body); err != nil || len(body.Unsigned.RedactedBecause) > 0 {
		return &storage.PushSummary{} // a redacted event no longer notifies
	}
	if evType == "m.room.message" && body.Content.MsgType == "m.notice" {
		return &storage.PushSummary{}
	}
	s := &storage.PushSummary{Notify: true}
	if body.Content.Mentions != nil {
		s.Mentions = body.Content.Mentions.UserIDs
	}
	return s
}
