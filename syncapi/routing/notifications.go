package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// GET /v3/notifications (spec: client-server API, "Listing
// notifications"): the events that notified the user, newest first, from
// the rows written when each event was stored.

const (
	defaultNotificationsLimit = 20
	maxNotificationsLimit     = 100
)

// notificationsResponse is the endpoint's answer.
type notificationsResponse struct {
	NextToken     string              `json:"next_token,omitempty"`
	Notifications []notificationEntry `json:"notifications"`
}

type notificationEntry struct {
	Actions json.RawMessage `json:"actions"`
	Event   json.RawMessage `json:"event"`
	Read    bool            `json:"read"`
	RoomID  string          `json:"room_id"`
	TS      int64           `json:"ts"`
}

func (rt *Routes) notifications(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	before, limit, err := notificationsParams(r)
	if err != nil {
		return err
	}
	joined := map[string]int64{} // room → where the user's current join is
	for roomID, m := range rt.notifier.RoomsOf(dev.UserID) {
		if m.Membership == "join" {
			joined[roomID] = m.Pos
		}
	}
	rows, err := rt.store.Notifications(r.Context(), dev.UserID, joined, before, limit, r.URL.Query().Get("only") == "highlight")
	if err != nil {
		return err
	}
	resp := notificationsResponse{Notifications: make([]notificationEntry, 0, len(rows))}
	reads := map[string]readPoints{}
	for _, n := range rows {
		entry, err := rt.notificationEntry(r.Context(), dev.UserID, n, reads)
		if err != nil {
			return err
		}
		if entry != nil {
			resp.Notifications = append(resp.Notifications, *entry)
		}
	}
	if len(rows) == limit {
		resp.NextToken = strconv.FormatInt(rows[len(rows)-1].Pos, 10)
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// notificationsParams reads from (a position: the rows before it) and
// limit.
func notificationsParams(r *http.Request) (before int64, limit int, err error) {
	q := r.URL.Query()
	before, limit = math.MaxInt64, defaultNotificationsLimit
	if s := q.Get("from"); s != "" {
		if before, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, 0, httputil.InvalidParam("from must be a next_token of an earlier answer")
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, 0, httputil.InvalidParam("limit must be a non-negative integer")
		}
		limit = min(n, maxNotificationsLimit)
	}
	return before, max(limit, 1), nil
}

// notificationEntry is one row as listed: the event as it is now (a
// redacted one redacted), and whether the user has read it. nil when the
// event is gone.
func (rt *Routes) notificationEntry(
	ctx context.Context, userID string, n storage.Notification, reads map[string]readPoints,
) (*notificationEntry, error) {
	ev, err := rt.store.EventByID(ctx, n.EventID)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("notification event %s: %w", n.EventID, err)
	}
	rp, ok := reads[n.RoomID]
	if !ok {
		if rp, err = rt.readPointsOf(ctx, userID, n.RoomID, rt.notifier.Pos()); err != nil {
			return nil, err
		}
		reads[n.RoomID] = rp
	}
	return &notificationEntry{
		Actions: n.Actions, Event: ev.JSON, Read: n.Pos <= rp.of(n.ThreadID), RoomID: n.RoomID, TS: n.TS,
	}, nil
}
