package appservice_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/appservice"
	"github.com/myelin-im/myelin/appservice/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestInterest: which events a service is pushed, on the real roomserver.
func TestInterest(t *testing.T) {
	f := fixture.New(t)
	alice := f.User(t, "alice")
	puppet := f.User(t, "_br_puppet")
	withPuppet := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	f.Join(t, puppet, withPuppet)
	withAlias := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	if err := f.Rooms.CreateAlias(context.Background(), "#_br_chan:"+f.ServerName, withAlias, alice.ID); err != nil {
		t.Fatal(err)
	}
	plain := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	as := &api.Registration{ID: "br", ASToken: "a", HSToken: "h", SenderLocalpart: "brbot", Namespaces: api.Namespaces{
		Users:   []api.Namespace{{Exclusive: true, Regex: "@_br_.*"}},
		Aliases: []api.Namespace{{Exclusive: true, Regex: "#_br_.*"}},
		Rooms:   []api.Namespace{{Regex: "!bridged"}},
	}}
	if err := as.Compile(); err != nil {
		t.Fatal(err)
	}
	reg := api.NewRegistry(f.ServerName, []*api.Registration{as})
	sk := func(s string) *string { return &s }
	for _, tc := range []struct {
		name string
		ev   roomapi.ClientEvent
		want bool
	}{
		{"sent by a namespaced user", roomapi.ClientEvent{Sender: puppet.ID, RoomID: plain, Type: "m.room.message"}, true},
		{"sent by the service's sender", roomapi.ClientEvent{Sender: "@brbot:" + f.ServerName, RoomID: plain,
			Type: "m.room.message"}, true},
		{"membership of a namespaced user", roomapi.ClientEvent{Sender: alice.ID, RoomID: plain, Type: "m.room.member",
			StateKey: sk("@_br_x:" + f.ServerName)}, true},
		{"in a room of its namespace", roomapi.ClientEvent{Sender: alice.ID, RoomID: "!bridged:" + f.ServerName,
			Type: "m.room.message"}, true},
		{"in a room with a namespaced member", roomapi.ClientEvent{Sender: alice.ID, RoomID: withPuppet, Type: "m.room.message"}, true},
		{"in a room with a namespaced alias", roomapi.ClientEvent{Sender: alice.ID, RoomID: withAlias, Type: "m.room.message"}, true},
		{"none of those", roomapi.ClientEvent{Sender: alice.ID, RoomID: plain, Type: "m.room.message"}, false},
		{"a remote user matching the regex is not the service's", roomapi.ClientEvent{Sender: alice.ID, RoomID: plain,
			Type: "m.room.member", StateKey: sk("@_br_x:elsewhere.example")}, false},
		{"nor is a remote sender", roomapi.ClientEvent{Sender: "@_br_x:elsewhere.example", RoomID: plain, Type: "m.room.message"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appservice.Interested(context.Background(), as, reg, f.Rooms, &tc.ev)
			if err != nil || got != tc.want {
				t.Fatalf("Interested = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestTransactionID(t *testing.T) {
	a, b := appservice.TransactionID("1", "2"), appservice.TransactionID("1", "2")
	if a != b || a == appservice.TransactionID("1") || a == appservice.TransactionID("12") || len(a) != 32 {
		t.Fatalf("transaction IDs %q %q: want stable per batch, distinct between batches", a, b)
	}
}

func TestTypingView(t *testing.T) {
	var v appservice.TypingView
	now := time.Unix(1000, 0)
	change := func(user string, typing bool, timeoutMS int64) syncapi.TypingChange {
		return syncapi.TypingChange{RoomID: "!r:x", UserID: user, Typing: typing, TimeoutMS: timeoutMS}
	}
	for _, step := range []struct {
		c    syncapi.TypingChange
		at   time.Duration
		want string
	}{
		{change("@b:x", true, 5000), 0, "@b:x"},
		{change("@a:x", true, 0), time.Second, "@a:x @b:x"}, // no timeout: 30 s
		{change("@a:x", false, 0), 2 * time.Second, "@b:x"},
		{change("@c:x", true, 1000), 6 * time.Second, "@c:x"}, // @b:x expired at 5 s
		{change("@c:x", false, 0), 6 * time.Second, ""},
	} {
		got := strings.Join(v.Apply(step.c, now.Add(step.at)), " ")
		if got != step.want {
			t.Fatalf("after %s %v at %s: typing %q, want %q", step.c.UserID, step.c.Typing, step.at, got, step.want)
		}
	}
}

// TestRetryDelay: pushes back off from 200 ms, doubling, and never wait
// more than the cap — a bridge back after an outage waits at most that.
func TestRetryDelay(t *testing.T) {
	var got []string
	for attempt := range 8 {
		got = append(got, appservice.RetryDelay(attempt, appservice.DefaultRetryMax).String())
	}
	if want := "200ms 400ms 800ms 1.6s 3.2s 5s 5s 5s"; strings.Join(got, " ") != want {
		t.Fatalf("delays %v, want %s", got, want)
	}
	if d := appservice.RetryDelay(1000, appservice.DefaultRetryMax); d != 5*time.Second {
		t.Fatalf("after many attempts %s", d)
	}
}

// TestPresenceEvent: an update becomes the m.presence event of /sync, its
// last_active_ago counted to when it was published (the same on retries).
func TestPresenceEvent(t *testing.T) {
	msg := "away for lunch"
	for _, tc := range []struct {
		name string
		u    syncapi.PresenceUpdate
		want string
	}{
		{"online with a message", syncapi.PresenceUpdate{UserID: "@a:x", Presence: "online", StatusMsg: &msg,
			LastActiveTS: 1000, CurrentlyActive: true},
			`{"content":{"currently_active":true,"last_active_ago":500,"presence":"online","status_msg":"away for lunch"},` +
				`"sender":"@a:x","type":"m.presence"}`},
		{"offline, active later than published", syncapi.PresenceUpdate{UserID: "@b:x", Presence: "offline", LastActiveTS: 2000},
			`{"content":{"currently_active":false,"last_active_ago":0,"presence":"offline"},"sender":"@b:x","type":"m.presence"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(appservice.PresenceEvent(tc.u, 1500))
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
		})
	}
}
