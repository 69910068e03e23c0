package storage

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// Notifications are written per event: the outcome most of the room's
// local members got, and the users whose outcome differs (see
// migrations/006_notifications.sql).

// Outcome is what a user's push rules decided for an event.
type Outcome struct {
	Notify    bool
	Highlight bool
	Actions   json.RawMessage // the matched rule's actions, a JSON array
}

// NotifyEvent is an event that notifies someone, with its room's common
// outcome.
type NotifyEvent struct {
	RoomID   string
	Pos      int64 // the event's stream position
	EventID  string
	Sender   string
	ThreadID string // the thread root, "" for the main timeline
	TS       int64
	Common   Outcome
}

// NotifyUser is a user whose outcome of an event differs from the room's
// common one.
type NotifyUser struct {
	UserID string
	Outcome
}

// Notification is one event that notified one user, as listed.
type Notification struct {
	Pos       int64
	RoomID    string
	EventID   string
	ThreadID  string
	Highlight bool
	Actions   json.RawMessage
	TS        int64
}

// InsertNotifications writes an event's notifications (a redelivered
// event's rows are left as they are).
func (s *Storage) InsertNotifications(ctx context.Context, ev NotifyEvent, users []NotifyUser) error {
	_, err := s.db.Exec(ctx, `INSERT INTO syncapi_notify_events (room_id, stream_pos, event_id, sender, thread_id, notify,
		highlight, actions, ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (room_id, stream_pos) DO NOTHING`,
		ev.RoomID, ev.Pos, ev.EventID, ev.Sender, ev.ThreadID, boolInt(ev.Common.Notify), boolInt(ev.Common.Highlight),
		actionsText(ev.Common.Actions), ev.TS)
	if err != nil {
		return fmt.Errorf("syncapi storage: writing the notification of %s: %w", ev.EventID, err)
	}
	for _, u := range users {
		_, err := s.db.Exec(ctx, `INSERT INTO syncapi_notify_users (user_id, room_id, stream_pos, notify, highlight, actions)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, room_id, stream_pos) DO NOTHING`,
			u.UserID, ev.RoomID, ev.Pos, boolInt(u.Notify), boolInt(u.Highlight), actionsText(u.Actions))
		if err != nil {
			return fmt.Errorf("syncapi storage: writing %s's notification of %s: %w", u.UserID, ev.EventID, err)
		}
	}
	return nil
}

func actionsText(a json.RawMessage) string {
	if len(a) == 0 {
		return "[]"
	}
	return string(a)
}

// DeleteNotifications removes every notification of an event (it was
// redacted).
func (s *Storage) DeleteNotifications(ctx context.Context, eventID string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM syncapi_notify_users WHERE EXISTS (SELECT 1 FROM syncapi_notify_events e
		WHERE e.event_id = $1 AND e.room_id = syncapi_notify_users.room_id AND e.stream_pos = syncapi_notify_users.stream_pos)`,
		eventID)
	if err == nil {
		_, err = s.db.Exec(ctx, `DELETE FROM syncapi_notify_events WHERE event_id = $1`, eventID)
	}
	if err != nil {
		return fmt.Errorf("syncapi storage: deleting notifications of %s: %w", eventID, err)
	}
	return nil
}

// ThreadCounts are the notifications and highlights of one thread ("" for
// the main timeline) of a room.
type ThreadCounts struct {
	ThreadID                  string
	Notifications, Highlights int
}

// NotificationCounts counts userID's notifications in roomID with after <
// position <= upto, per thread: the room's common outcome where the user
// has none of their own (never for their own events), and their own.
func (s *Storage) NotificationCounts(ctx context.Context, userID, roomID string, after, upto int64) ([]ThreadCounts, error) {
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (ThreadCounts, error) {
		var c ThreadCounts
		err := sc.Scan(&c.ThreadID, &c.Notifications, &c.Highlights)
		return c, err
	}, `SELECT thread_id, COUNT(*), COALESCE(SUM(highlight), 0) FROM (
		SELECT e.thread_id, e.highlight FROM syncapi_notify_events e
			WHERE e.room_id = $1 AND e.stream_pos > $2 AND e.stream_pos <= $3 AND e.notify = 1 AND e.sender <> $4
			AND NOT EXISTS (SELECT 1 FROM syncapi_notify_users x
				WHERE x.user_id = $4 AND x.room_id = $1 AND x.stream_pos = e.stream_pos)
		UNION ALL
		SELECT e.thread_id, x.highlight FROM syncapi_notify_users x
			JOIN syncapi_notify_events e ON e.room_id = x.room_id AND e.stream_pos = x.stream_pos
			WHERE x.user_id = $4 AND x.room_id = $1 AND x.stream_pos > $2 AND x.stream_pos <= $3 AND x.notify = 1
		) unread GROUP BY thread_id`, roomID, after, upto, userID)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: counting notifications: %w", err)
	}
	return rows, nil
}

// maxListingRounds bounds the reads of one Notifications call that find
// only rows from before the user joined.
const maxListingRounds = 8

// Notifications returns up to limit of userID's notifications with a
// stream position below before, newest first; only highlights when
// onlyHighlight. joined maps the rooms the user is joined to to the
// position they joined at: a room's common outcome counts for them after
// it.
func (s *Storage) Notifications(
	ctx context.Context, userID string, joined map[string]int64, before int64, limit int, onlyHighlight bool,
) ([]Notification, error) {
	minHL := 0
	if onlyHighlight {
		minHL = 1
	}
	own, err := sqlutil.Select(ctx, s.db, scanNotification, `SELECT x.room_id, x.stream_pos, e.event_id, e.thread_id,
		x.highlight, x.actions, e.ts FROM syncapi_notify_users x
		JOIN syncapi_notify_events e ON e.room_id = x.room_id AND e.stream_pos = x.stream_pos
		WHERE x.user_id = $1 AND x.stream_pos < $2 AND x.notify = 1 AND x.highlight >= $3
		ORDER BY x.stream_pos DESC LIMIT $4`, userID, before, minHL, limit)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading notifications: %w", err)
	}
	common, err := s.commonNotifications(ctx, userID, joined, before, limit, minHL)
	if err != nil {
		return nil, err
	}
	all := append(own, common...)
	slices.SortFunc(all, func(a, b Notification) int { return cmp.Compare(b.Pos, a.Pos) })
	return all[:min(len(all), limit)], nil
}

// commonNotifications reads, newest first, up to limit events of the
// joined rooms whose common outcome notifies, after each room's join and
// without an outcome of the user's own.
func (s *Storage) commonNotifications(
	ctx context.Context, userID string, joined map[string]int64, before int64, limit, minHL int,
) ([]Notification, error) {
	rooms := make([]string, 0, len(joined))
	for r := range joined {
		rooms = append(rooms, r)
	}
	var out []Notification
	for range maxListingRounds {
		page, err := sqlutil.Select(ctx, s.db, scanNotification, `SELECT e.room_id, e.stream_pos, e.event_id, e.thread_id,
			e.highlight, e.actions, e.ts FROM syncapi_notify_events e
			WHERE e.room_id = ANY($1) AND e.stream_pos < $2 AND e.notify = 1 AND e.highlight >= $3 AND e.sender <> $4
			AND NOT EXISTS (SELECT 1 FROM syncapi_notify_users x
				WHERE x.user_id = $4 AND x.room_id = e.room_id AND x.stream_pos = e.stream_pos)
			ORDER BY e.stream_pos DESC LIMIT $5`, sqlutil.List(rooms), before, minHL, userID, limit)
		if err != nil {
			return nil, fmt.Errorf("syncapi storage: reading notifications: %w", err)
		}
		for _, n := range page {
			if n.Pos > joined[n.RoomID] {
				out = append(out, n)
			}
		}
		if len(out) >= limit || len(page) < limit {
			break
		}
		before = page[len(page)-1].Pos
	}
	return out, nil
}

func scanNotification(sc sqlutil.Scanner) (Notification, error) {
	var n Notification
	var hl int
	var actions string
	err := sc.Scan(&n.RoomID, &n.Pos, &n.EventID, &n.ThreadID, &hl, &actions, &n.TS)
	n.Highlight, n.Actions = hl != 0, json.RawMessage(actions)
	return n, err
}
