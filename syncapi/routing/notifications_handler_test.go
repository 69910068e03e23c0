package routing_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// sendContent sends an m.room.message with content as u.
func sendContent(t *testing.T, e *env, u *fixture.User, content string) string {
	t.Helper()
	id, err := e.Rooms.SendEvent(context.Background(), roomapi.SendEventRequest{
		RoomID: e.room, Sender: u.ID, Type: "m.room.message", Content: []byte(content),
	})
	if err != nil {
		t.Fatalf("sending %s: %v", content, err)
	}
	e.waitStored(t, id)
	return id
}

type notificationsBody struct {
	NextToken     string `json:"next_token"`
	Notifications []struct {
		Actions []any       `json:"actions"`
		Event   clientEvent `json:"event"`
		Read    bool        `json:"read"`
		RoomID  string      `json:"room_id"`
		TS      int64       `json:"ts"`
	} `json:"notifications"`
}

// TestNotifications: push rules run when an event is stored — a message
// notifies, a mention highlights, an edit and a notice do not notify, the
// sender is never notified — and GET /notifications lists what notified,
// newest first, with only=highlight and pagination; /sync's counts agree,
// per thread when the filter asks, and the user's own message reads the
// room.
func TestNotifications(t *testing.T) {
	for name, db := range map[string]func(t *testing.T) *sqlutil.DB{
		"sqlite":   func(t *testing.T) *sqlutil.DB { return sqltest.Open(t, sqlutil.SQLite) },
		"postgres": func(t *testing.T) *sqlutil.DB { return sqltest.Open(t, sqlutil.Postgres) },
	} {
		t.Run(name, func(t *testing.T) { testNotifications(t, newEnvOn(t, db(t))) })
	}
}

func testNotifications(t *testing.T, e *env) {
	before := doSync(t, e.Fixture, e.bob, "")
	if c := before.Rooms.Join[e.room].UnreadNotifications; c["notification_count"] != 2 {
		// "three" and "after dave left" came after bob's "two".
		t.Fatalf("bob's counts before: %v", c)
	}
	plain := sendContent(t, e, e.alice, `{"msgtype":"m.text","body":"hello"}`)
	mention := sendContent(t, e, e.alice, `{"msgtype":"m.text","body":"bob!","m.mentions":{"user_ids":["`+e.bob.ID+`"]}}`)
	sendContent(t, e, e.alice, `{"msgtype":"m.text","body":"* hello","m.new_content":{"msgtype":"m.text","body":"hello"},
		"m.relates_to":{"rel_type":"m.replace","event_id":"`+plain+`"}}`)
	sendContent(t, e, e.alice, `{"msgtype":"m.notice","body":"a bot says"}`)
	threaded := sendContent(t, e, e.alice, `{"msgtype":"m.text","body":"in a thread",
		"m.relates_to":{"rel_type":"m.thread","event_id":"`+plain+`"}}`)

	list := func(t *testing.T, u *fixture.User, query string) notificationsBody {
		t.Helper()
		res := e.Do(t, http.MethodGet, "/_matrix/client/v3/notifications?"+query, u.Token, nil)
		res.Want(t, http.StatusOK)
		var b notificationsBody
		res.Decode(t, &b)
		return b
	}
	ids := func(b notificationsBody) []string {
		var out []string
		for _, n := range b.Notifications {
			out = append(out, n.Event.EventID)
		}
		return out
	}
	for _, c := range []struct {
		name, query string
		user        *fixture.User
		want        []string
		more        bool
	}{
		{"newest first", "limit=3", e.bob, []string{threaded, mention, plain}, true},
		{"highlights", "only=highlight", e.bob, []string{mention}, false},
		// alice sent all but bob's "two": only that notifies her.
		{"the sender is not notified", "", e.alice, []string{e.msgs[1]}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := list(t, c.user, c.query)
			if got := ids(b); len(got) != len(c.want) || (len(got) > 0 && !equalStrings(got, c.want)) {
				t.Fatalf("listed %v, want %v", got, c.want)
			}
			if (b.NextToken != "") != c.more {
				t.Fatalf("next_token %q, want more: %v", b.NextToken, c.more)
			}
		})
	}
	t.Run("pagination", func(t *testing.T) {
		first := list(t, e.bob, "limit=2")
		rest := list(t, e.bob, "limit=2&from="+url.QueryEscape(first.NextToken))
		if len(rest.Notifications) != 2 || rest.Notifications[0].Event.EventID != plain || rest.Notifications[0].Read {
			t.Fatalf("second page %+v", rest.Notifications)
		}
	})
	t.Run("sync counts, per thread", func(t *testing.T) {
		b := doSync(t, e.Fixture, e.bob, "")
		if c := b.Rooms.Join[e.room].UnreadNotifications; c["notification_count"] != 5 || c["highlight_count"] != 1 {
			t.Fatalf("counts %v, want 5 notifications (three, late, plain, mention, thread), 1 highlight", c)
		}
		filter := url.QueryEscape(`{"room":{"timeline":{"unread_thread_notifications":true}}}`)
		res := e.Do(t, http.MethodGet, syncPath+"?filter="+filter, e.bob.Token, nil)
		res.Want(t, http.StatusOK)
		room := res.JSON()["rooms"].(map[string]any)["join"].(map[string]any)[e.room].(map[string]any)
		threads, _ := room["unread_thread_notifications"].(map[string]any)
		main, _ := room["unread_notifications"].(map[string]any)
		if th, _ := threads[plain].(map[string]any); th["notification_count"] != float64(1) || main["notification_count"] != float64(4) {
			t.Fatalf("split counts: main %v, threads %v", main, threads)
		}
	})
	t.Run("own message reads the room", func(t *testing.T) {
		e.Send(t, e.bob, e.room, "read it all")
		b := doSync(t, e.Fixture, e.bob, "")
		if c := b.Rooms.Join[e.room].UnreadNotifications; c["notification_count"] != 0 || c["highlight_count"] != 0 {
			t.Fatalf("counts after bob spoke: %v", c)
		}
		if l := list(t, e.bob, "limit=1"); len(l.Notifications) != 1 || !l.Notifications[0].Read {
			t.Fatalf("newest notification after bob spoke: %+v", l.Notifications)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestNotificationsBadInput: bad parameters get M_INVALID_PARAM, no token
// M_MISSING_TOKEN.
func TestNotificationsBadInput(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name, query, token string
		status             int
		errcode            string
	}{
		{"from not a token", "from=abc", e.bob.Token, http.StatusBadRequest, "M_INVALID_PARAM"},
		{"negative limit", "limit=-1", e.bob.Token, http.StatusBadRequest, "M_INVALID_PARAM"},
		{"limit not a number", "limit=x", e.bob.Token, http.StatusBadRequest, "M_INVALID_PARAM"},
		{"no token", "", "", http.StatusUnauthorized, "M_MISSING_TOKEN"},
		{"huge limit is capped", "limit=100000", e.bob.Token, http.StatusOK, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := e.Do(t, http.MethodGet, "/_matrix/client/v3/notifications?"+c.query, c.token, nil)
			if c.errcode == "" {
				res.Want(t, c.status)
				return
			}
			res.Want(t, c.status, c.errcode)
		})
	}
}

// TestRoomMentionNeedsPermission: an @room mention highlights when its
// sender may notify the room (the creator, at 100) and only notifies when
// not (bob, at 0; .m.rule.is_room_mention needs notifications.room, 50).
func TestRoomMentionNeedsPermission(t *testing.T) {
	e := newEnv(t)
	byAlice := sendContent(t, e, e.alice, `{"msgtype":"m.text","body":"everyone!","m.mentions":{"room":true}}`)
	byBob := sendContent(t, e, e.bob, `{"msgtype":"m.text","body":"everyone?","m.mentions":{"room":true}}`)
	for _, c := range []struct {
		user          *fixture.User
		event         string
		wantHighlight bool
	}{
		{e.bob, byAlice, true},
		{e.alice, byBob, false},
	} {
		res := e.Do(t, http.MethodGet, "/_matrix/client/v3/notifications?limit=1", c.user.Token, nil)
		res.Want(t, http.StatusOK)
		var b notificationsBody
		res.Decode(t, &b)
		if len(b.Notifications) != 1 || b.Notifications[0].Event.EventID != c.event {
			t.Fatalf("%s's newest notification: %+v, want %s", c.user.ID, b.Notifications, c.event)
		}
		highlight := false
		for _, a := range b.Notifications[0].Actions {
			if m, ok := a.(map[string]any); ok && m["set_tweak"] == "highlight" && m["value"] != false {
				highlight = true
			}
		}
		if highlight != c.wantHighlight {
			t.Errorf("%s's notification of %s: actions %v, want highlight %v",
				c.user.ID, c.event, b.Notifications[0].Actions, c.wantHighlight)
		}
	}
}
