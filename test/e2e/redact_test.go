package e2e

import (
	"net/http"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// TestRedaction: users redact their own messages, moderators anyone's,
// others nobody's; the redacted content is gone from /event and /messages,
// which mark it with redacted_because — for room versions 10 and 12.
func TestRedaction(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		for _, ver := range []string{"10", "12"} {
			room, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "public_chat", RoomVersion: id.RoomVersion(ver)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.JoinRoomByID(ctx(t), room.RoomID); err != nil {
				t.Fatal(err)
			}
			aMsg, _ := alice.SendText(ctx(t), room.RoomID, "alice's secret")
			bMsg, _ := bob.SendText(ctx(t), room.RoomID, "bob's secret")
			bMsg2, _ := bob.SendText(ctx(t), room.RoomID, "bob again")

			_, err = bob.RedactEvent(ctx(t), room.RoomID, aMsg.EventID)
			wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
			own, err := bob.RedactEvent(ctx(t), room.RoomID, bMsg.EventID, mautrix.ReqRedact{Reason: "oops", TxnID: "r1"})
			if err != nil {
				t.Fatalf("v%s own redaction: %v", ver, err)
			}
			retry, err := bob.RedactEvent(ctx(t), room.RoomID, bMsg.EventID, mautrix.ReqRedact{Reason: "oops", TxnID: "r1"})
			if err != nil || retry.EventID != own.EventID {
				t.Fatalf("redaction retry: %v %v", retry, err)
			}
			if _, err := alice.RedactEvent(ctx(t), room.RoomID, bMsg2.EventID); err != nil {
				t.Fatalf("v%s moderator redaction: %v", ver, err)
			}
			// An event this server does not have: not found for bob (no
			// redact level), sent for alice (the servers with it apply it).
			_, err = bob.RedactEvent(ctx(t), room.RoomID, "$nope")
			wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			if _, err := alice.RedactEvent(ctx(t), room.RoomID, "$nope"); err != nil {
				t.Fatalf("v%s moderator redaction of an unknown event: %v", ver, err)
			}

			ev, err := alice.GetEvent(ctx(t), room.RoomID, bMsg.EventID)
			if err != nil || len(ev.Content.Raw) != 0 {
				t.Fatalf("v%s redacted event still has content: %+v %v", ver, ev.Content.Raw, err)
			}
			// /messages serves the redacted form with redacted_because.
			deadline := time.Now().Add(10 * time.Second)
			for {
				resp, err := bob.Messages(ctx(t), room.RoomID, "", "", mautrix.DirectionBackward, nil, 50)
				if err != nil {
					t.Fatal(err)
				}
				var target, redaction *event.Event
				for _, e := range resp.Chunk {
					if e.ID == bMsg.EventID {
						target = e
					}
					if e.ID == own.EventID {
						redaction = e
					}
				}
				if target != nil && redaction != nil && target.Unsigned.RedactedBecause != nil && len(target.Content.Raw) == 0 {
					if redaction.Redacts != bMsg.EventID && redaction.Content.Raw["redacts"] != string(bMsg.EventID) {
						t.Fatalf("v%s redaction event does not name its target: %+v", ver, redaction)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("v%s /messages never showed the redaction: target=%+v", ver, target)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
}
