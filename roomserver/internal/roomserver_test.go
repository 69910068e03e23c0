package internal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

const (
	alice = "@alice:test.local"
	bob   = "@bob:test.local"
	carol = "@carol:test.local"
)

type fixture struct {
	rs    *Roomserver
	store *storage.Storage
	bus   bus.Bus
	opts  Options
}

func newFixture(t *testing.T, db *sqlutil.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := storage.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.NewDurable(ctx, db, bus.Options{}, logrus.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	opts := Options{ServerName: "test.local", KeyID: "ed25519:test", PrivateKey: priv}
	return &fixture{rs: New(opts, store, b, logrus.New()), store: store, bus: b, opts: opts}
}

func forbidden(t *testing.T, err error) {
	t.Helper()
	var fe *api.ForbiddenError
	if !errors.As(err, &fe) || fe.Reason == "" {
		t.Fatalf("want a forbidden error with a reason, got %v", err)
	}
}

func TestRoomLifecycle(t *testing.T) {
	for _, ver := range []string{"", "10", "11", "9"} {
		t.Run("version="+ver, func(t *testing.T) {
			sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
				testRoomLifecycle(t, db, ver)
			})
		})
	}
}

func testRoomLifecycle(t *testing.T, db *sqlutil.DB, ver string) {
	ctx := context.Background()
	f := newFixture(t, db)
	rs := f.rs
	var mu sync.Mutex
	var out []api.OutputEvent
	got := make(chan struct{}, 1000)
	if _, err := f.bus.Subscribe(ctx, api.OutputTopic, "test", func(_ context.Context, m *bus.Message) error {
		var oe api.OutputEvent
		if err := json.Unmarshal(m.Body, &oe); err != nil {
			return err
		}
		mu.Lock()
		out = append(out, oe)
		mu.Unlock()
		got <- struct{}{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	name := "Tea party"
	roomID, err := rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, RoomVersion: ver, Preset: PresetPrivateChat, Name: &name, Invite: []string{bob}, IsDirect: true})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if m, _ := rs.Membership(ctx, roomID, bob); m != "invite" {
		t.Fatalf("bob's membership = %s", m)
	}
	// Carol is not invited to an invite-only room.
	_, err = rs.PerformMembership(ctx, api.MembershipRequest{RoomID: roomID, Sender: carol, Target: carol, Membership: "join"})
	forbidden(t, err)
	// Bob accepts.
	if _, err := rs.PerformMembership(ctx, api.MembershipRequest{RoomID: roomID, Sender: bob, Target: bob, Membership: "join"}); err != nil {
		t.Fatalf("bob joins: %v", err)
	}
	joined, _ := rs.Members(ctx, roomID, "join")
	if len(joined) != 2 {
		t.Fatalf("joined = %v", joined)
	}
	// Messages, with transaction idempotency.
	first, err := rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: bob, DeviceID: "D", TxnID: "t1", Type: "m.room.message", Content: json.RawMessage(`{"msgtype":"m.text","body":"hi"}`)})
	if err != nil {
		t.Fatal(err)
	}
	again, err := rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: bob, DeviceID: "D", TxnID: "t1", Type: "m.room.message", Content: json.RawMessage(`{"msgtype":"m.text","body":"hi"}`)})
	if err != nil || again != first {
		t.Fatalf("retry gave %s, %v; want %s", again, err, first)
	}
	other, _ := rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: bob, DeviceID: "E", TxnID: "t1", Type: "m.room.message", Content: json.RawMessage(`{"body":"x"}`)})
	if other == first {
		t.Fatal("transaction IDs are not scoped per device")
	}
	// The same transaction ID on another endpoint path is a new request
	// (spec: "Transaction identifiers").
	if id, _ := rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: bob, DeviceID: "D", TxnID: "t1", Type: "m.room.other", Content: json.RawMessage(`{}`)}); id == first || id == "" {
		t.Fatalf("transaction ID reused across event types: %q", id)
	}
	// Carol cannot send to a room she is not in.
	_, err = rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: carol, Type: "m.room.message", Content: json.RawMessage(`{}`)})
	forbidden(t, err)
	// Bob (power 0) cannot change the name (50); alice can.
	sk := ""
	_, err = rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: bob, Type: "m.room.name", StateKey: &sk, Content: json.RawMessage(`{"name":"mine"}`)})
	forbidden(t, err)
	if _, err := rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: alice, Type: "m.room.name", StateKey: &sk, Content: json.RawMessage(`{"name":"Mad tea party"}`)}); err != nil {
		t.Fatal(err)
	}
	nameEv, err := rs.StateEvent(ctx, roomID, "m.room.name", "")
	if err != nil || !json.Valid(nameEv.PDU) {
		t.Fatal(err)
	}
	var parsed struct {
		Content struct{ Name string } `json:"content"`
	}
	_ = json.Unmarshal(nameEv.PDU, &parsed)
	if parsed.Content.Name != "Mad tea party" {
		t.Fatalf("name = %q", parsed.Content.Name)
	}
	// Bob cannot kick alice; alice bans bob, who cannot rejoin.
	_, err = rs.PerformMembership(ctx, api.MembershipRequest{RoomID: roomID, Sender: bob, Target: alice, Membership: "leave"})
	forbidden(t, err)
	if _, err := rs.PerformMembership(ctx, api.MembershipRequest{RoomID: roomID, Sender: alice, Target: bob, Membership: "ban", Reason: "rude"}); err != nil {
		t.Fatal(err)
	}
	_, err = rs.PerformMembership(ctx, api.MembershipRequest{RoomID: roomID, Sender: bob, Target: bob, Membership: "join"})
	forbidden(t, err)
	if rooms, _ := rs.JoinedRooms(ctx, bob); len(rooms) != 0 {
		t.Fatalf("banned bob is in %v", rooms)
	}
	if err := rs.Forget(ctx, roomID, bob); err != nil {
		t.Fatal(err)
	}
	if err := rs.Forget(ctx, roomID, alice); err == nil {
		t.Fatal("a joined user forgot the room")
	}

	// A new roomserver over the same database sees the same room.
	rs2 := New(f.opts, f.store, f.bus, logrus.New())
	if m, _ := rs2.Membership(ctx, roomID, bob); m != "ban" {
		t.Fatalf("after reload bob = %s", m)
	}
	if _, err := rs2.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{"body":"still here"}`)}); err != nil {
		t.Fatalf("send after reload: %v", err)
	}
	if id, _ := rs2.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: bob, DeviceID: "D", TxnID: "t1", Type: "m.room.message"}); id != first {
		t.Fatal("transaction forgotten after reload")
	}
	state, _ := rs2.CurrentState(ctx, roomID)
	if len(state) < 7 {
		t.Fatalf("current state has %d events", len(state))
	}

	// Every stored event reached the output log, in order.
	deadline := time.After(10 * time.Second)
	for {
		mu.Lock()
		n := len(out)
		mu.Unlock()
		if n >= 15 {
			break
		}
		select {
		case <-got:
		case <-deadline:
			t.Fatalf("only %d output events", n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var prevDepth int64
	for i, oe := range out {
		var ev struct {
			Depth  int64  `json:"depth"`
			RoomID string `json:"room_id"`
			Type   string `json:"type"`
		}
		_ = json.Unmarshal(oe.Event, &ev)
		if ev.Depth <= prevDepth {
			t.Fatalf("output %d out of order: depth %d after %d", i, ev.Depth, prevDepth)
		}
		prevDepth = ev.Depth
		if oe.RoomID != roomID {
			t.Fatalf("output for room %s", oe.RoomID)
		}
	}
	if out[0].Event == nil || out[2].TxnID != "" {
		t.Fatal("bad output event")
	}
}

func TestCreateRoomErrors(t *testing.T) {
	db := sqltest.Open(t, sqlutil.SQLite)
	f := newFixture(t, db)
	ctx := context.Background()
	if _, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, RoomVersion: "999", Preset: PresetPrivateChat}); !errors.Is(err, api.ErrUnsupportedRoomVersion) {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPrivateChat,
		InitialState: []api.StateEvent{{Type: "m.room.power_levels", Content: json.RawMessage(`{}`)}}}); !errors.Is(err, api.ErrInvalidState) {
		t.Fatalf("power levels in initial_state: %v", err)
	}
	// A failed creation leaves nothing behind.
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM roomserver_rooms`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rooms after failed creations: %d %v", n, err)
	}
	// Public rooms can be joined by anyone; v12 rooms have domainless IDs.
	id, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 44 || id[0] != '!' {
		t.Fatalf("room v12 ID %q", id)
	}
	if _, err := f.rs.PerformMembership(ctx, api.MembershipRequest{RoomID: id, Sender: carol, Target: carol, Membership: "join"}); err != nil {
		t.Fatalf("join public room: %v", err)
	}
	if _, err := f.rs.SendEvent(ctx, api.SendEventRequest{RoomID: "!nope:test.local", Sender: alice, Type: "m.room.message"}); !errors.Is(err, api.ErrRoomNotFound) {
		t.Fatalf("unknown room: %v", err)
	}
	_ = gomatrixserverlib.RoomVersionV12
}
