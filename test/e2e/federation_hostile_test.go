package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// TestFederationHostilePDUs: a server in a room (one, whose signing key
// the test holds, so it can forge what a hostile or broken server would
// send) sends two a transaction of bad PDUs beside good ones: a forged
// signature, a tampered content (the hash fails, so the redacted form is
// kept, as the spec says), a sender who is not in the room (rejected by
// the auth rules), a PDU over 64 KiB, one that is not an object, one of
// another room, one with an event type over 255 bytes. Each bad one gets
// an error in the per-PDU results or is kept only as the spec allows; the
// good ones go through; bob's view of the room has exactly the good
// messages and the same state; the server stays up.
func TestFederationHostilePDUs(t *testing.T) {
	t.Parallel() // one of the longest: runs beside the other long ones once the serial tests are done
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			f, alice, bob := startPair(t, d)
			one, two := f.servers["one.test"], f.servers["two.test"]
			c := ctx(t)
			room := sharedRoom(t, "hostile", alice, bob)
			roomID := room.RoomID.String()
			if _, err := alice.SendText(c, room.RoomID, "before"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "two has alice's message", func() bool {
				msgs, err := bob.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 1)
				return err == nil && len(msgs.Chunk) == 1 && msgs.Chunk[0].Content.Raw["body"] == "before"
			})
			ver, err := two.Roomserver.RoomVersion(c, roomID)
			if err != nil {
				t.Fatal(err)
			}
			stateID := func(evType, key string) string {
				ev, err := two.Roomserver.StateEvent(c, roomID, evType, key)
				if err != nil {
					t.Fatalf("%s/%s: %v", evType, key, err)
				}
				return ev.ID
			}
			var auth []string
			if !ver.DomainlessRoomIDs() {
				auth = append(auth, stateID(spec.MRoomCreate, ""))
			}
			auth = append(auth, stateID(spec.MRoomPowerLevels, ""))
			prev, err := two.Roomserver.LatestEventIDs(c, roomID)
			if err != nil {
				t.Fatal(err)
			}
			keyID := gomatrixserverlib.KeyID(one.SigningKey.ID)
			depth := int64(1000)
			build := func(sender, evType string, content any, key ed25519.PrivateKey) gomatrixserverlib.PDU {
				t.Helper()
				senderAuth := append([]string(nil), auth...)
				if m, err := two.Roomserver.StateEvent(c, roomID, spec.MRoomMember, sender); err == nil {
					senderAuth = append(senderAuth, m.ID)
				}
				proto := gomatrixserverlib.ProtoEvent{SenderID: sender, RoomID: roomID, Type: evType, PrevEvents: prev,
					AuthEvents: senderAuth, Depth: depth}
				depth++
				if err := proto.SetContent(content); err != nil {
					t.Fatal(err)
				}
				ev, err := ver.NewEventBuilderFromProtoEvent(&proto).Build(time.Now(), "one.test", keyID, key)
				if err != nil {
					t.Fatal(err)
				}
				return ev
			}
			msg := func(body string) map[string]any { return map[string]any{"msgtype": "m.text", "body": body} }
			aliceID := alice.UserID.String()
			_, forger, _ := ed25519.GenerateKey(rand.Reader)

			good := build(aliceID, "m.room.message", msg("good one"), one.SigningKey.Private)
			forged := build(aliceID, "m.room.message", msg("forged"), forger)
			stranger := build("@mallory:one.test", "m.room.message", msg("not in the room"), one.SigningKey.Private)
			// The builder refuses what the spec forbids: an oversized event and
			// an over-long type are made by editing a good one's JSON.
			edited := func(field string, value any) json.RawMessage {
				ev := build(aliceID, "m.room.message", msg("to be edited"), one.SigningKey.Private)
				var m map[string]any
				if err := json.Unmarshal(ev.JSON(), &m); err != nil {
					t.Fatal(err)
				}
				m[field] = value
				b, _ := json.Marshal(m)
				return b
			}
			bigJSON := edited("content", msg(strings.Repeat("x", 70_000)))
			// Tampered: content changed after signing; the hash no longer
			// matches, so the event counts as redacted.
			signed := build(aliceID, "m.room.message", msg("original"), one.SigningKey.Private)
			var tampered map[string]any
			if err := json.Unmarshal(signed.JSON(), &tampered); err != nil {
				t.Fatal(err)
			}
			tampered["content"] = msg("tampered")
			tamperedJSON, _ := json.Marshal(tampered)
			longTypeJSON := edited("type", strings.Repeat("t", 300))
			var otherRoom map[string]any
			_ = json.Unmarshal(good.JSON(), &otherRoom)
			otherRoom["room_id"] = "!elsewhere:one.test"
			otherRoomJSON, _ := json.Marshal(otherRoom)
			good2 := build(aliceID, "m.room.message", msg("good two"), one.SigningKey.Private)

			pdus := []json.RawMessage{good.JSON(), forged.JSON(), stranger.JSON(), bigJSON, tamperedJSON,
				json.RawMessage(`"not an object"`), json.RawMessage(`{"room_id": 5}`), otherRoomJSON, longTypeJSON, good2.JSON()}
			txn := map[string]any{"origin": "one.test", "origin_server_ts": time.Now().UnixMilli(), "pdus": pdus}
			path := "/_matrix/federation/v1/send/hostile-" + string(d)
			resp := f.signed(t, "one.test", "two.test", http.MethodPut, path, txn)
			var res struct {
				PDUs map[string]struct {
					Error string `json:"error"`
				} `json:"pdus"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&res)
			_ = resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("/send with bad PDUs: %d", resp.StatusCode)
			}
			for name, ev := range map[string]gomatrixserverlib.PDU{"forged signature": forged, "sender not in the room": stranger} {
				if r, ok := res.PDUs[ev.EventID()]; ok && r.Error == "" {
					t.Errorf("%s: accepted without error", name)
				}
			}
			for name, ev := range map[string]gomatrixserverlib.PDU{"good one": good, "good two": good2} {
				if r := res.PDUs[ev.EventID()]; r.Error != "" {
					t.Errorf("%s: %s", name, r.Error)
				}
			}

			// Bob sees the good ones and the tampered one's redacted form,
			// nothing else; two still serves.
			var bodies []string
			var redacted int
			waitFor(t, "the good messages at bob", func() bool {
				msgs, err := bob.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 20)
				if err != nil {
					return false
				}
				bodies, redacted = nil, 0
				for _, e := range msgs.Chunk {
					if len(e.Type.Type) > 255 {
						t.Fatalf("an event with a %d-byte type was taken", len(e.Type.Type))
					}
					if e.Type.Type != "m.room.message" {
						continue
					}
					if b, ok := e.Content.Raw["body"].(string); ok {
						bodies = append(bodies, b)
					} else {
						redacted++
					}
				}
				return len(bodies) >= 3
			})
			if fmt.Sprint(bodies) != "[good two good one before]" {
				t.Fatalf("bob's messages: %q (and %d without a body)", bodies, redacted)
			}
			if redacted > 1 {
				t.Fatalf("%d messages without a body; at most the tampered one", redacted)
			}
			for _, ev := range []gomatrixserverlib.PDU{forged, stranger} {
				if _, err := bob.GetEvent(c, room.RoomID, id.EventID(ev.EventID())); err == nil {
					t.Errorf("bob can read %s, which two should not have taken", ev.EventID())
				}
			}
			if m, err := two.Roomserver.Membership(c, roomID, "@mallory:one.test"); err != nil || m == "join" {
				t.Fatalf("mallory's membership at two: %q %v", m, err)
			}
			if _, err := bob.SendText(c, room.RoomID, "still here"); err != nil {
				t.Fatalf("two after the hostile transaction: %v", err)
			}
		})
	}
}

// TestFederationVisibilityForServers: /backfill and /get_missing_events
// give a server the events it may see under the room's history
// visibility, the others redacted: with "joined", what was said before any
// of its users joined comes without content; with "shared", in full.
func TestFederationVisibilityForServers(t *testing.T) {
	f, alice, bob := startPair(t, sqlutil.SQLite)
	two := f.servers["two.test"]
	c := ctx(t)
	for _, hv := range []string{"joined", "shared"} {
		room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat",
			InitialState: historyVisibility(hv)})
		if err != nil {
			t.Fatal(err)
		}
		said, err := alice.SendText(c, room.RoomID, "before bob, "+hv)
		if err != nil {
			t.Fatal(err)
		}
		joined, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}})
		if err != nil {
			t.Fatal(err)
		}
		_ = joined
		latest, err := two.Roomserver.LatestEventIDs(c, room.RoomID.String())
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{
			"/_matrix/federation/v1/backfill/" + url.PathEscape(room.RoomID.String()) + "?limit=20&v=" + url.QueryEscape(latest[0]),
		} {
			resp := f.signed(t, "two.test", "one.test", http.MethodGet, path, nil)
			var txn struct {
				PDUs []json.RawMessage `json:"pdus"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&txn)
			_ = resp.Body.Close()
			found := false
			for _, raw := range txn.PDUs {
				var e struct {
					Type    string         `json:"type"`
					Content map[string]any `json:"content"`
				}
				_ = json.Unmarshal(raw, &e)
				if e.Type != "m.room.message" {
					continue
				}
				found = true
				_, hasBody := e.Content["body"]
				if hasBody != (hv == "shared") {
					t.Errorf("%s: the message from before bob's join has body %v: %s", hv, hasBody, raw)
				}
			}
			if !found {
				t.Errorf("%s: /backfill did not give the message %s", hv, said.EventID)
			}
		}
	}
}
