package internal

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

func TestRedact(t *testing.T) {
	for _, ver := range []string{"10", "11", "12"} {
		t.Run("v"+ver, func(t *testing.T) {
			f := newFixture(t, sqltest.Open(t, sqlutil.SQLite))
			ctx := context.Background()
			roomID, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, RoomVersion: ver, Preset: PresetPublicChat})
			if err != nil {
				t.Fatal(err)
			}
			setMembership(t, f.rs, roomID, bob, bob, "join")
			msg := sendText(t, f.rs, roomID, bob, "secret")
			aliceMsg := sendText(t, f.rs, roomID, alice, "mine")
			if _, err := f.rs.Redact(ctx, api.RedactRequest{RoomID: roomID, Sender: bob, EventID: aliceMsg}); err == nil {
				t.Fatal("bob redacted alice's message")
			} else {
				forbidden(t, err)
			}
			if _, err := f.rs.Redact(ctx, api.RedactRequest{RoomID: roomID, Sender: bob, EventID: msg, Reason: "oops"}); err != nil {
				t.Fatal(err)
			}
			ev, err := f.rs.Event(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			ce, _ := ev.Client()
			if string(ce.Content) != "{}" {
				t.Fatalf("redacted content = %s", ce.Content)
			}
			// A redaction through /send works too; a redaction of an
			// unknown event is sent for a user with the redact level (the
			// servers that have it apply it), not found for one without.
			if _, err := f.rs.SendEvent(ctx, api.SendEventRequest{
				RoomID:  roomID,
				Sender:  alice,
				Type:    "m.room.redaction",
				Content: json.RawMessage(`{"redacts":"` + aliceMsg + `"}`),
			}); err != nil {
				t.Fatal(err)
			}
			_, err = f.rs.Redact(ctx, api.RedactRequest{RoomID: roomID, Sender: bob, EventID: "$nope"})
			if !errors.Is(err, api.ErrEventNotFound) {
				t.Fatalf("unknown event, bob: %v", err)
			}
			rid, err := f.rs.Redact(ctx, api.RedactRequest{RoomID: roomID, Sender: alice, EventID: "$nope:elsewhere"})
			if err != nil {
				t.Fatalf("unknown event, alice: %v", err)
			}
			red, err := f.rs.Event(ctx, rid)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(red.PDU), `"m.room.redaction"`) || !strings.Contains(string(red.PDU), `"$nope:elsewhere"`) {
				t.Fatalf("the redaction of an unknown event: %s", red.PDU)
			}
		})
	}
}
