package routing_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// knockSync is the part of a /sync answer the knock tests look at.
type knockSync struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Knock map[string]struct {
			KnockState struct{ Events []map[string]json.RawMessage } `json:"knock_state"`
		} `json:"knock"`
		Invite map[string]json.RawMessage `json:"invite"`
		Leave  map[string]json.RawMessage `json:"leave"`
		Join   map[string]struct {
			Timeline struct{ Events []clientEvent } `json:"timeline"`
		} `json:"join"`
	} `json:"rooms"`
}

func doKnockSync(t *testing.T, f *fixture.Fixture, u *fixture.User, since string) knockSync {
	t.Helper()
	q := "?timeout=0"
	if since != "" {
		q += "&since=" + since
	}
	res := f.Do(t, http.MethodGet, syncPath+q, u.Token, nil)
	res.Want(t, http.StatusOK)
	var b knockSync
	res.Decode(t, &b)
	return b
}

// TestSyncKnock: a knock is in the knocker's rooms.knock, with stripped
// state holding the whole create event (MSC4311), the join rules and the
// knock, and no other member; the room's members see the knock in their
// timeline; an accepted knock (invite) moves the room to rooms.invite, a
// refused (kick) or rescinded (leave) one to rooms.leave.
func TestSyncKnock(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnvOn(t, db)
		ctx := context.Background()
		frank := e.User(t, "frank")
		room := e.Room(t, e.alice, roomapi.CreateRoomRequest{Preset: "private_chat", InitialState: []roomapi.StateEvent{
			{Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"knock"}`)},
		}})
		knock := func(u *fixture.User) string {
			id, err := e.Rooms.PerformMembership(ctx, roomapi.MembershipRequest{RoomID: room, Sender: u.ID, Target: u.ID,
				Membership: "knock", Reason: "please"})
			if err != nil {
				t.Fatal(err)
			}
			e.waitStored(t, id)
			return id
		}
		knockID := knock(frank)
		first := doKnockSync(t, e.Fixture, frank, "")
		kr, ok := first.Rooms.Knock[room]
		if !ok || len(first.Rooms.Join) != 0 || len(first.Rooms.Invite) != 0 {
			t.Fatalf("initial sync: %+v", first.Rooms)
		}
		types := map[string]map[string]json.RawMessage{}
		for _, ev := range kr.KnockState.Events {
			var typ, key string
			_ = json.Unmarshal(ev["type"], &typ)
			_ = json.Unmarshal(ev["state_key"], &key)
			if typ == "m.room.member" && key != frank.ID {
				t.Fatalf("another member in knock_state: %s", key)
			}
			types[typ] = ev
		}
		if types["m.room.create"]["origin_server_ts"] == nil || types["m.room.join_rules"] == nil ||
			string(types["m.room.member"]["content"]) == "" || types["m.room.member"]["event_id"] != nil {
			t.Fatalf("knock_state: %+v", kr.KnockState.Events)
		}
		// The room's members see the knock.
		found := false
		for _, ev := range doKnockSync(t, e.Fixture, e.alice, "").Rooms.Join[room].Timeline.Events {
			found = found || ev.EventID == knockID
		}
		if !found {
			t.Fatal("alice does not see frank's knock")
		}
		// Nothing new: no knock section again.
		if again := doKnockSync(t, e.Fixture, frank, first.NextBatch); len(again.Rooms.Knock) != 0 {
			t.Fatalf("incremental sync repeats the knock: %+v", again.Rooms)
		}
		// Refused (kick): rooms.leave; knocked again: rooms.knock.
		since := first.NextBatch
		e.waitStored(t, kick(t, e, room, frank.ID))
		if b := doKnockSync(t, e.Fixture, frank, since); b.Rooms.Leave[room] == nil {
			t.Fatalf("after the kick: %+v", b.Rooms)
		} else {
			since = b.NextBatch
		}
		knock(frank)
		if b := doKnockSync(t, e.Fixture, frank, since); len(b.Rooms.Knock) != 1 {
			t.Fatalf("after knocking again: %+v", b.Rooms)
		} else {
			since = b.NextBatch
		}
		// Rescinded (leave): rooms.leave.
		e.waitStored(t, e.leave(t, frank, room))
		if b := doKnockSync(t, e.Fixture, frank, since); b.Rooms.Leave[room] == nil {
			t.Fatalf("after rescinding: %+v", b.Rooms)
		} else {
			since = b.NextBatch
		}
		// Accepted (invite): rooms.invite.
		knock(frank)
		e.Invite(t, e.alice, frank, room)
		e.waitStored(t, e.Send(t, e.alice, room, "after the invite"))
		if b := doKnockSync(t, e.Fixture, frank, since); b.Rooms.Invite[room] == nil || len(b.Rooms.Knock) != 0 {
			t.Fatalf("after the invite: %+v", b.Rooms)
		}
	})
}

// kick has alice kick target out of room; it returns the leave's ID.
func kick(t *testing.T, e *env, room, target string) string {
	t.Helper()
	id, err := e.Rooms.PerformMembership(context.Background(), roomapi.MembershipRequest{RoomID: room, Sender: e.alice.ID,
		Target: target, Membership: "leave"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
