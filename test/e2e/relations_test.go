package e2e

import (
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestRelations: replies, edits, reactions and threads on one server, as a
// mautrix client sees them (spec: "Forming relationships between events").
func TestRelations(t *testing.T) {
	srv := startServer(t, testConfig(t, sqltest.URL(t, sqlutil.SQLite)))
	alice := register(t, srv, "alice", "long enough")
	bob := register(t, srv, "bob", "long enough")
	room := publicRoom(t, alice, bob)
	relationsScenario(t, alice, bob, room)
}

// TestFederationRelations: the same across two servers: alice of one and
// bob of two, each reading the aggregations their own server computed from
// the other's events.
func TestFederationRelations(t *testing.T) {
	_, alice, bob := startPair(t, sqlutil.SQLite)
	room := sharedRoomByID(t, alice, bob)
	relationsScenario(t, alice, bob, room)
}

// sharedRoomByID has alice create a public room and bob join it, and waits
// until both servers see both members.
func sharedRoomByID(t *testing.T, alice, bob *mautrix.Client) id.RoomID {
	t.Helper()
	c := ctx(t)
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{alice.UserID.Homeserver()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both members seen on both servers", func() bool {
		for _, u := range []*mautrix.Client{alice, bob} {
			if m, err := u.JoinedMembers(c, room.RoomID); err != nil || len(m.Joined) != 2 {
				return false
			}
		}
		return true
	})
	return room.RoomID
}

// relationsScenario: alice posts; bob replies (m.in_reply_to), reacts and
// starts a thread; alice edits twice, then redacts her second edit. Each
// client must see the thread summary and the latest valid edit bundled,
// the reaction through /relations and the thread through /threads.
func relationsScenario(t *testing.T, alice, bob *mautrix.Client, room id.RoomID) {
	c := ctx(t)
	send := func(u *mautrix.Client, typ event.Type, content map[string]any) id.EventID {
		t.Helper()
		resp, err := u.SendMessageEvent(c, room, typ, content)
		if err != nil {
			t.Fatalf("%s sending %v: %v", u.UserID, content, err)
		}
		return resp.EventID
	}
	text := func(body string) map[string]any { return map[string]any{"msgtype": "m.text", "body": body} }
	rel := func(content map[string]any, relType, parent string) map[string]any {
		content["m.relates_to"] = map[string]any{"rel_type": relType, "event_id": parent}
		return content
	}
	rootID := send(alice, event.EventMessage, text("root"))
	edit := func(body string) map[string]any {
		return rel(map[string]any{"msgtype": "m.text", "body": "* " + body, "m.new_content": text(body)}, "m.replace", rootID.String())
	}
	reply := text("a reply")
	reply["m.relates_to"] = map[string]any{"m.in_reply_to": map[string]any{"event_id": rootID}}
	replyID := send(bob, event.EventMessage, reply)
	reaction := send(bob, event.EventReaction, map[string]any{
		"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": rootID, "key": "👍"}})
	t1 := send(bob, event.EventMessage, rel(text("in thread"), "m.thread", rootID.String()))
	// The thread's latest event is the newest the server has: alice
	// answers once hers has bob's (over federation, it may come late).
	waitFor(t, "alice's server has bob's thread reply", func() bool {
		_, err := alice.GetEvent(c, room, t1)
		return err == nil
	})
	edit1 := send(alice, event.EventMessage, edit("root, edited"))
	edit2 := send(alice, event.EventMessage, edit("root, edited twice"))
	t2 := send(alice, event.EventMessage, rel(text("in thread again"), "m.thread", rootID.String()))

	for _, u := range []*mautrix.Client{alice, bob} {
		var last *event.Event
		defer func() {
			if t.Failed() && last != nil {
				t.Logf("%s's last view of the root: %s", u.UserID, toJSON(last.Unsigned.Relations))
			}
		}()
		waitFor(t, string(u.UserID)+" sees the thread and the latest edit", func() bool {
			ev, err := u.GetEvent(c, room, rootID)
			if err != nil {
				return false
			}
			last = ev
			th := ev.Unsigned.Relations.GetThread()
			return th.GetCount() == 2 && th.GetLatestEvent() != nil && th.GetLatestEvent().ID == t2 &&
				th.CurrentUserParticipated && ev.Unsigned.Relations.GetLatestEdit() != nil &&
				ev.Unsigned.Relations.GetLatestEdit().ID == edit2
		})
		// Thread, reaction, edits: the plain reply is not a relationship.
		rels, err := u.GetRelations(c, room, rootID, &mautrix.ReqGetRelations{})
		if err != nil || len(rels.Chunk) != 5 {
			t.Fatalf("%s: /relations %v %v", u.UserID, rels, err)
		}
		for _, e := range rels.Chunk {
			if e.ID == replyID {
				t.Fatalf("%s: the reply is listed as a relation", u.UserID)
			}
		}
		ann, err := u.GetRelations(c, room, rootID, &mautrix.ReqGetRelations{RelationType: event.RelAnnotation})
		if err != nil || len(ann.Chunk) != 1 || ann.Chunk[0].ID != reaction {
			t.Fatalf("%s: annotations %v %v", u.UserID, ann, err)
		}
		var threads struct {
			Chunk []*event.Event `json:"chunk"`
		}
		url := u.BuildClientURL("v1", "rooms", room, "threads")
		if _, err := u.MakeRequest(c, http.MethodGet, url, nil, &threads); err != nil || len(threads.Chunk) != 1 ||
			threads.Chunk[0].ID != rootID || threads.Chunk[0].Unsigned.Relations.GetThread().GetCount() != 2 {
			t.Fatalf("%s: /threads %+v %v", u.UserID, threads, err)
		}
	}
	if _, err := alice.RedactEvent(c, room, edit2); err != nil {
		t.Fatal(err)
	}
	// Both servers: bob's applies the redaction when it arrives over
	// federation (same server as the edit's sender).
	for _, u := range []*mautrix.Client{alice, bob} {
		waitFor(t, string(u.UserID)+" sees the edit before the redacted one", func() bool {
			resp, err := u.Messages(c, room, "", "", mautrix.DirectionBackward, nil, 50)
			if err != nil {
				return false
			}
			for _, e := range resp.Chunk {
				if e.ID == rootID {
					return e.Unsigned.Relations.GetLatestEdit() != nil && e.Unsigned.Relations.GetLatestEdit().ID == edit1
				}
			}
			return false
		})
	}
}
