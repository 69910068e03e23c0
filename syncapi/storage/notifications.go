package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// Notification is one event that notifies one local user (their push rules
// said "notify"), as written with the event (spec: client-server API, "Push
// Notifications").
type Notification struct {
	UserID    string
	Pos       int64 // the event's stream position
	RoomID    string
	EventID   string
	ThreadID  string // the thread root, "" for the main timeline
	Highlight bool
	Actions   json.RawMessage
	TS        int64
}

// notificationRowsPerInsert bounds the rows of one INSERT: a 1,000-member
// room's message is 8 statements, not 1,000.
const notificationRowsPerInsert = 128

// InsertNotifications writes rows (a redelivered event's rows are left as
// they are).
func (s *Storage) InsertNotifications(ctx context.Context, rows []Notification) error {
	for len(rows) > 0 {
		n := min(len(rows), notificationRowsPerInsert)
		if err := s.insertNotifications(ctx, rows[:n]); err != nil {
			return fmt.Errorf("syncapi storage: writing notifications: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

func (s *Storage) insertNotifications(ctx context.Context, rows []Notification) error {
	const cols = 8
	var q strings.Builder
	q.WriteString(`INSERT INTO syncapi_notifications (user_id, stream_pos, room_id, event_id, thread_id, highlight, actions, ts) VALUES `)
	args := make([]any, 0, len(rows)*cols)
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(")
		for c := range cols {
			if c > 0 {
				q.WriteString(", ")
			}
			q.WriteString("$" + strconv.Itoa(i*cols+c+1))
		}
		q.WriteString(")")
		args = append(args, r.UserID, r.Pos, r.RoomID, r.EventID, r.ThreadID, boolInt(r.Highlight), string(r.Actions), r.TS)
	}
	q.WriteString(" ON CONFLICT (user_id, stream_pos) DO NOTHING")
	_, err := s.db.Exec(ctx, q.String(), args...)
	return err
}

// Notifications returns up to limit of userID's notifications with a
// stream position below before, newest first; only highlights when
// onlyHighlight.
func (s *Storage) Notifications(ctx context.Context, userID string, before int64, limit int, onlyHighlight bool) ([]Notification, error) {
	minHighlight := 0
	if onlyHighlight {
		minHighlight = 1
	}
	rows, err := sqlutil.Select(ctx, s.db, scanNotification, `SELECT `+notificationColumns+` FROM syncapi_notifications
		WHERE user_id = $1 AND stream_pos < $2 AND highlight >= $3
		ORDER BY stream_pos DESC LIMIT $4`, userID, before, minHighlight, limit)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading notifications: %w", err)
	}
	return rows, nil
}

const notificationColumns = `user_id, stream_pos, room_id, event_id, thread_id, highlight, actions, ts`

func scanNotification(sc sqlutil.Scanner) (Notification, error) {
	var n Notification
	var hl int
	var actions string
	err := sc.Scan(&n.UserID, &n.Pos, &n.RoomID, &n.EventID, &n.ThreadID, &hl, &actions, &n.TS)
	n.Highlight, n.Actions = hl != 0, json.RawMessage(actions)
	return n, err
}

// ThreadCounts are the notifications and highlights of one thread ("" for
// the main timeline) of a room.
type ThreadCounts struct {
	ThreadID                  string
	Notifications, Highlights int
}

// NotificationCounts counts userID's notifications in roomID with after <
// position <= upto, per thread.
func (s *Storage) NotificationCounts(ctx context.Context, userID, roomID string, after, upto int64) ([]ThreadCounts, error) {
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (ThreadCounts, error) {
		var c ThreadCounts
		err := sc.Scan(&c.ThreadID, &c.Notifications, &c.Highlights)
		return c, err
	}, `SELECT thread_id, COUNT(*), COALESCE(SUM(highlight), 0) FROM syncapi_notifications
		WHERE user_id = $1 AND room_id = $2 AND stream_pos > $3 AND stream_pos <= $4
		GROUP BY thread_id`, userID, roomID, after, upto)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: counting notifications: %w", err)
	}
	return rows, nil
}

// DeleteNotifications removes every notification of an event (it was
// redacted).
func (s *Storage) DeleteNotifications(ctx context.Context, eventID string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM syncapi_notifications WHERE event_id = $1`, eventID); err != nil {
		return fmt.Errorf("syncapi storage: deleting notifications of %s: %w", eventID, err)
	}
	return nil
}
