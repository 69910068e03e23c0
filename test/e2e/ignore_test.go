package e2e

import (
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// syncUntilIgnoreList long-polls alice's /sync until m.ignored_user_list
// shows in it (the change has then reached the sync component) and returns
// the next token.
func syncUntilIgnoreList(t *testing.T, c *mautrix.Client, since string) string {
	t.Helper()
	for range 5 {
		resp := syncOnce(t, c, since, 5*time.Second)
		since = resp.NextBatch
		for _, e := range resp.AccountData.Events {
			if e.Type.Type == "m.ignored_user_list" {
				return since
			}
		}
	}
	t.Fatal("m.ignored_user_list never reached /sync")
	return ""
}

// TestIgnoreUser: alice ignores bob; his message reaches neither her /sync
// nor /messages, his display-name change (a state event) does; once she
// no longer ignores him, his next message arrives.
func TestIgnoreUser(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	alice := register(t, srv, "alice", "long enough")
	bob := register(t, srv, "bob", "long enough")
	room := publicRoom(t, alice, bob)
	since := syncOnce(t, alice, "", 0).NextBatch

	ignore := func(users ...id.UserID) {
		t.Helper()
		list := map[id.UserID]any{}
		for _, u := range users {
			list[u] = map[string]any{}
		}
		if err := alice.SetAccountData(ctx(t), "m.ignored_user_list", map[string]any{"ignored_users": list}); err != nil {
			t.Fatal(err)
		}
		since = syncUntilIgnoreList(t, alice, since)
	}
	ignore(bob.UserID)

	hidden, err := bob.SendText(ctx(t), room, "you cannot hear me")
	if err != nil {
		t.Fatal(err)
	}
	rename, err := bob.SendStateEvent(ctx(t), room, event.StateMember, string(bob.UserID),
		map[string]any{"membership": "join", "displayname": "Bobby"})
	if err != nil {
		t.Fatal(err)
	}
	got := syncOnce(t, alice, since, 5*time.Second)
	since = got.NextBatch
	var ids []id.EventID
	for _, e := range got.Rooms.Join[room].Timeline.Events {
		ids = append(ids, e.ID)
	}
	if slices.Contains(ids, hidden.EventID) || !slices.Contains(ids, rename.EventID) {
		t.Fatalf("alice's timeline %v: want bob's rename %s, not his message %s", ids, rename.EventID, hidden.EventID)
	}
	msgs, err := alice.Messages(ctx(t), room, "", "", mautrix.DirectionBackward, nil, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range msgs.Chunk {
		if e.ID == hidden.EventID {
			t.Fatal("/messages shows alice bob's message")
		}
	}

	ignore()
	heard, err := bob.SendText(ctx(t), room, "hello again")
	if err != nil {
		t.Fatal(err)
	}
	got = syncOnce(t, alice, since, 5*time.Second)
	if b := bodies(got.Rooms.Join[room].Timeline.Events); !slices.Equal(b, []string{"hello again"}) {
		t.Fatalf("after unignoring, alice's timeline bodies %v, want only bob's new message (%s)", b, heard.EventID)
	}
}
