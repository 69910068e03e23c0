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
	"github.com/matrix-org/gomatrixserverlib/spec"
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
	return newFixtureOf(t, db, "test.local")
}

// newFixtureOf is newFixture for a roomserver of the named server.
func newFixtureOf(t *testing.T, db *sqlutil.DB, server spec.ServerName) *fixture {
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
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("closing the bus: %v", err)
		}
	})
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	opts := Options{ServerName: server, KeyID: "ed25519:test", PrivateKey: priv}
	return &fixture{rs: New(opts, store, b, logrus.New()), store: store, bus: b, opts: opts}
}

// sendText sends a plain message and returns its event ID.
func sendText(t *testing.T, rs *Roomserver, roomID, sender, body string) string {
	t.Helper()
	content, err := json.Marshal(map[string]string{"body": body})
	if err != nil {
		t.Fatal(err)
	}
	id, err := rs.SendEvent(context.Background(), api.SendEventRequest{
		RoomID:  roomID,
		Sender:  sender,
		Type:    "m.room.message",
		Content: content,
	})
	if err != nil {
		t.Fatalf("%s sends %q: %v", sender, body, err)
	}
	return id
}

// setMembership has sender make target's membership membership.
func setMembership(t *testing.T, rs *Roomserver, roomID, sender, target, membership string) {
	t.Helper()
	if _, err := rs.PerformMembership(context.Background(), api.MembershipRequest{
		RoomID:     roomID,
		Sender:     sender,
		Target:     target,
		Membership: membership,
	}); err != nil {
		t.Fatalf("%s sets %s's membership to %s: %v", sender, target, membership, err)
	}
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
	roomID, err := rs.CreateRoom(ctx, api.CreateRoomRequest{
		Creator:     alice,
		RoomVersion: ver,
		Preset:      PresetPrivateChat,
		Name:        &name,
		Invite:      []string{bob},
		IsDirect:    true,
	})
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
	setMembership(t, rs, roomID, bob, bob, "join")
	joined, _ := rs.Members(ctx, roomID, "join")
	if len(joined) != 2 {
		t.Fatalf("joined = %v", joined)
	}
	// Messages, with transaction idempotency.
	hi := api.SendEventRequest{
		RoomID:   roomID,
		Sender:   bob,
		DeviceID: "D",
		TxnID:    "t1",
		Type:     "m.room.message",
		Content:  json.RawMessage(`{"msgtype":"m.text","body":"hi"}`),
	}
	first, err := rs.SendEvent(ctx, hi)
	if err != nil {
		t.Fatal(err)
	}
	again, err := rs.SendEvent(ctx, hi)
	if err != nil || again != first {
		t.Fatalf("retry gave %s, %v; want %s", again, err, first)
	}
	other, _ := rs.SendEvent(ctx, api.SendEventRequest{
		RoomID:   roomID,
		Sender:   bob,
		DeviceID: "E",
		TxnID:    "t1",
		Type:     "m.room.message",
		Content:  json.RawMessage(`{"body":"x"}`),
	})
	if other == first {
		t.Fatal("transaction IDs are not scoped per device")
	}
	// The same transaction ID on another endpoint path is a new request
	// (spec: "Transaction identifiers").
	if id, _ := rs.SendEvent(ctx, api.SendEventRequest{
		RoomID:   roomID,
		Sender:   bob,
		DeviceID: "D",
		TxnID:    "t1",
		Type:     "m.room.other",
		Content:  json.RawMessage(`{}`),
	}); id == first || id == "" {
		t.Fatalf("transaction ID reused across event types: %q", id)
	}
	// Carol cannot send to a room she is not in.
	_, err = rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: carol, Type: "m.room.message", Content: json.RawMessage(`{}`)})
	forbidden(t, err)
	// Bob (power 0) cannot change the name (50); alice can.
	sk := ""
	_, err = rs.SendEvent(ctx, api.SendEventRequest{
		RoomID:   roomID,
		Sender:   bob,
		Type:     "m.room.name",
		StateKey: &sk,
		Content:  json.RawMessage(`{"name":"mine"}`),
	})
	forbidden(t, err)
	if _, err := rs.SendEvent(ctx, api.SendEventRequest{
		RoomID:   roomID,
		Sender:   alice,
		Type:     "m.room.name",
		StateKey: &sk,
		Content:  json.RawMessage(`{"name":"Mad tea party"}`),
	}); err != nil {
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
	if _, err := rs.PerformMembership(ctx, api.MembershipRequest{
		RoomID:     roomID,
		Sender:     alice,
		Target:     bob,
		Membership: "ban",
		Reason:     "rude",
	}); err != nil {
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
	sendText(t, rs2, roomID, alice, "still here") // after a reload
	if id, _ := rs2.SendEvent(ctx, api.SendEventRequest{
		RoomID:   roomID,
		Sender:   bob,
		DeviceID: "D",
		TxnID:    "t1",
		Type:     "m.room.message",
	}); id != first {
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
	_, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, RoomVersion: "999", Preset: PresetPrivateChat})
	if !errors.Is(err, api.ErrUnsupportedRoomVersion) {
		t.Fatalf("unknown version: %v", err)
	}
	_, err = f.rs.CreateRoom(ctx, api.CreateRoomRequest{
		Creator:      alice,
		Preset:       PresetPrivateChat,
		InitialState: []api.StateEvent{{Type: "m.room.power_levels", Content: json.RawMessage(`{}`)}},
	})
	if !errors.Is(err, api.ErrInvalidState) {
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
	setMembership(t, f.rs, id, carol, carol, "join")
	_, err = f.rs.SendEvent(ctx, api.SendEventRequest{RoomID: "!nope:test.local", Sender: alice, Type: "m.room.message"})
	if !errors.Is(err, api.ErrRoomNotFound) {
		t.Fatalf("unknown room: %v", err)
	}
	_ = gomatrixserverlib.RoomVersionV12
}

// TestPipelinedSendsStayAChain sends many messages to one room at once,
// with retries of a used transaction among them: a retry's write fails at
// commit, the messages queued behind it are built again, and the room's
// events still form one chain from the newest back to the create event,
// with every acknowledged message on it.
func TestPipelinedSendsStayAChain(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		roomID, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat})
		if err != nil {
			t.Fatal(err)
		}
		msg := func(txn string) api.SendEventRequest {
			return api.SendEventRequest{RoomID: roomID, Sender: alice, DeviceID: "D", TxnID: txn, Type: "m.room.message",
				Content: json.RawMessage(`{"msgtype":"m.text","body":"` + txn + `"}`)}
		}
		first, err := f.rs.SendEvent(ctx, msg("t1"))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		ids := make([]string, 60)
		errs := make([]error, 60)
		for i := range ids {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				txn := "m" + string(rune('A'+i%26)) + string(rune('a'+i/26))
				if i%6 == 0 {
					txn = "t1" // a retry of the first message
				}
				ids[i], errs[i] = f.rs.SendEvent(ctx, msg(txn))
			}(i)
		}
		wg.Wait()
		acked := map[string]bool{first: true}
		for i, id := range ids {
			if errs[i] != nil {
				t.Fatalf("send %d: %v", i, errs[i])
			}
			if i%6 == 0 && id != first {
				t.Fatalf("retry %d returned %s, want %s", i, id, first)
			}
			acked[id] = true
		}
		if len(acked) != 51 {
			t.Fatalf("%d distinct events acknowledged, want 51", len(acked))
		}
		// Walk the chain back from the stored head.
		row, err := f.store.Room(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		if len(row.Extremities) != 1 {
			t.Fatalf("extremities %v", row.Extremities)
		}
		onChain := map[string]bool{}
		id, depth := row.Extremities[0], row.Depth
		for {
			ev, err := f.store.EventByID(ctx, id)
			if err != nil {
				t.Fatalf("event %s on the chain: %v", id, err)
			}
			var pdu struct {
				PrevEvents []string `json:"prev_events"`
				Depth      int64    `json:"depth"`
			}
			if err := json.Unmarshal(ev.JSON, &pdu); err != nil {
				t.Fatal(err)
			}
			if pdu.Depth != depth {
				t.Fatalf("event %s has depth %d, want %d", id, pdu.Depth, depth)
			}
			onChain[id] = true
			if ev.Type == "m.room.create" {
				break
			}
			if len(pdu.PrevEvents) != 1 {
				t.Fatalf("event %s has prev_events %v", id, pdu.PrevEvents)
			}
			id, depth = pdu.PrevEvents[0], depth-1
		}
		for id := range acked {
			if !onChain[id] {
				t.Fatalf("acknowledged event %s is not on the room's chain", id)
			}
		}
		// A roomserver started afresh on the same database (remembering no
		// transactions) continues the chain, with retries of t1 among
		// concurrent new messages.
		g := &fixture{rs: New(f.opts, f.store, f.bus, logrus.New())}
		for i := range ids {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				txn := "n" + string(rune('A'+i%26)) + string(rune('a'+i/26))
				if i%6 == 0 {
					txn = "t1"
				}
				ids[i], errs[i] = g.rs.SendEvent(ctx, msg(txn))
			}(i)
		}
		wg.Wait()
		for i, id := range ids {
			if errs[i] != nil {
				t.Fatalf("send %d after the restart: %v", i, errs[i])
			}
			if i%6 == 0 && id != first {
				t.Fatalf("retry %d after the restart returned %s, want %s", i, id, first)
			}
		}
		if row, err = f.store.Room(ctx, roomID); err != nil {
			t.Fatal(err)
		}
		next, err := g.rs.SendEvent(ctx, msg("after"))
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := f.store.EventByID(ctx, next)
		var pdu struct {
			PrevEvents []string `json:"prev_events"`
		}
		_ = json.Unmarshal(ev.JSON, &pdu)
		if len(pdu.PrevEvents) != 1 || pdu.PrevEvents[0] != row.Extremities[0] {
			t.Fatalf("after a restart prev_events %v, want [%s]", pdu.PrevEvents, row.Extremities[0])
		}
	})
}

// TestConfiguredDefaultRoomVersion: a room created without a version gets
// the configured default, one naming a version keeps it.
func TestConfiguredDefaultRoomVersion(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ def, asked, want string }{
		{"", "", api.DefaultRoomVersion},
		{"10", "", "10"},
		{"10", "12", "12"},
		{"12", "9", "9"},
	} {
		t.Run(tc.def+"/"+tc.asked, func(t *testing.T) {
			f := newFixture(t, sqltest.Open(t, sqlutil.SQLite))
			opts := f.opts
			opts.DefaultRoomVersion = gomatrixserverlib.RoomVersion(tc.def)
			rs := New(opts, f.store, f.bus, logrus.New())
			id, err := rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPrivateChat, RoomVersion: tc.asked})
			if err != nil {
				t.Fatal(err)
			}
			ver, err := rs.RoomVersion(ctx, id)
			if err != nil || string(ver.Version()) != tc.want {
				t.Fatalf("room version %v (%v), want %s", ver, err, tc.want)
			}
		})
	}
}
