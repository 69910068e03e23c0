package internal

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// busyRoom creates a room with a row in every table the purge empties:
// members (one invited as a direct chat), messages sent with transaction
// IDs, an alias, a directory entry and a report.
func busyRoom(t *testing.T, f *fixture) (string, storage.RoomNID) {
	t.Helper()
	ctx := context.Background()
	roomID, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.rs.PerformMembership(ctx, api.MembershipRequest{RoomID: roomID, Sender: alice, Target: bob,
		Membership: "invite", IsDirect: true}); err != nil {
		t.Fatal(err)
	}
	setMembership(t, f.rs, roomID, bob, bob, "join")
	msg, err := f.rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: bob, DeviceID: "D", TxnID: "t1",
		Type: "m.room.message", Content: json.RawMessage(`{"body":"hi"}`)})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := f.rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: bob, DeviceID: "D", TxnID: "t2",
		Type: "m.room.message", Content: json.RawMessage(`{"body":"oops"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.rs.Redact(ctx, api.RedactRequest{RoomID: roomID, Sender: bob, DeviceID: "D", TxnID: "t3", EventID: gone}); err != nil {
		t.Fatal(err) // its original is kept (roomserver_redacted_originals)
	}
	if err := f.rs.CreateAlias(ctx, "#busy:test.local", roomID, alice); err != nil {
		t.Fatal(err)
	}
	if err := f.rs.SetPublished(ctx, roomID, alice, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.InsertReport(ctx, api.NewReport{Kind: api.ReportEvent, Reporter: alice, RoomID: roomID,
		EventID: msg, TargetUserID: bob, Reason: "spam"}, 1); err != nil {
		t.Fatal(err)
	}
	room, err := f.store.Room(ctx, roomID)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.store.CountRoomRows(ctx, room.NID, roomID)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range rows {
		if n == 0 {
			t.Fatalf("the room has no row in %s to purge", table)
		}
	}
	return roomID, room.NID
}

func TestDeleteRoomPurges(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		out := collectOutput(t, f.bus)
		roomID, nid := busyRoom(t, f)
		otherID, otherNID := busyRoomOther(t, f)
		d, err := f.rs.DeleteRoom(ctx, api.RoomDeleteRequest{RoomID: roomID, Requester: carol, Block: true, Purge: true})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != api.DeleteComplete || len(d.Result.KickedUsers) != 2 || len(d.Result.LocalAliases) != 1 {
			t.Fatalf("delete %+v", d)
		}
		rows, err := f.store.CountRoomRows(ctx, nid, roomID)
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range rows {
			if n != 0 {
				t.Errorf("%d rows of the purged room left in %s", n, table)
			}
		}
		// The other room keeps every row.
		if rows, err = f.store.CountRoomRows(ctx, otherNID, otherID); err != nil {
			t.Fatal(err)
		}
		for table, n := range rows {
			if n == 0 && table != "roomserver_txns" && table != "roomserver_room_aliases" &&
				table != "roomserver_published_rooms" && table != "roomserver_direct_invites" && table != "roomserver_reports" &&
				table != "roomserver_redacted_originals" { // tables the other room never had rows in
				t.Errorf("the other room lost its rows in %s", table)
			}
		}
		waitFor(t, func() bool {
			out.mu.Lock()
			defer out.mu.Unlock()
			for _, o := range out.out {
				if o.Type == api.OutputTypePurgeRoom && o.RoomID == roomID {
					return true
				}
			}
			return false
		})
		// The room is gone for every reader, blocked, and joining it is refused.
		if _, err := f.rs.AdminRoom(ctx, roomID); !errors.Is(err, api.ErrRoomNotFound) {
			t.Fatalf("AdminRoom after the purge: %v", err)
		}
		if _, err := f.rs.PerformMembership(ctx, api.MembershipRequest{RoomID: roomID, Sender: bob, Target: bob,
			Membership: "join"}); !errors.Is(err, api.ErrRoomBlocked) {
			t.Fatalf("join after the purge: %v", err)
		}
		// Run again (as after a crash): nothing left to do, nothing fails.
		if _, err := f.rs.DeleteRoom(ctx, api.RoomDeleteRequest{RoomID: roomID, Requester: carol, Block: true,
			Purge: true}); err != nil {
			t.Fatalf("deleting the purged room again: %v", err)
		}
	})
}

// busyRoomOther is a second room, which a purge of the first must leave.
func busyRoomOther(t *testing.T, f *fixture) (string, storage.RoomNID) {
	t.Helper()
	roomID, err := f.rs.CreateRoom(context.Background(), api.CreateRoomRequest{Creator: carol, Preset: PresetPrivateChat})
	if err != nil {
		t.Fatal(err)
	}
	room, err := f.store.Room(context.Background(), roomID)
	if err != nil {
		t.Fatal(err)
	}
	return roomID, room.NID
}

// A delete recorded but not finished (the server stopped) is run again by
// ResumeRoomDeletes and ends complete.
func TestResumeRoomDelete(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		roomID, nid := busyRoom(t, f)
		req, err := json.Marshal(api.RoomDeleteRequest{RoomID: roomID, Requester: carol, Purge: true})
		if err != nil {
			t.Fatal(err)
		}
		// Half done: bob has already left.
		setMembership(t, f.rs, roomID, bob, bob, "leave")
		ok, err := f.store.InsertRoomDelete(ctx, storage.RoomDeleteRow{DeleteID: "crashed", RoomID: roomID,
			Request: string(req), Status: api.DeleteActive, Result: `{"kicked_users":["` + bob + `"]}`, CreatedTS: 1}, unfinished)
		if err != nil || !ok {
			t.Fatalf("recording: %v, %v", ok, err)
		}
		if _, err := f.rs.StartRoomDelete(ctx, api.RoomDeleteRequest{RoomID: roomID, Purge: true}); !errors.Is(err, api.ErrDeleteRunning) {
			t.Fatalf("a second delete while one runs: %v", err)
		}
		if err := f.rs.ResumeRoomDeletes(ctx); err != nil {
			t.Fatal(err)
		}
		var d api.RoomDelete
		waitFor(t, func() bool {
			d, err = f.rs.RoomDeleteByID(ctx, "crashed")
			return err == nil && d.Status != api.DeleteActive
		})
		if d.Status != api.DeleteComplete || len(d.Result.KickedUsers) != 2 {
			t.Fatalf("resumed delete %+v", d)
		}
		rows, err := f.store.CountRoomRows(ctx, nid, roomID)
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range rows {
			if n != 0 {
				t.Errorf("%d rows left in %s", n, table)
			}
		}
	})
}
