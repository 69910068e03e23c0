package routing_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// setIgnored sets u's m.ignored_user_list to ignored and waits, with
// long-polling syncs from since, until u's sync shows the change (the
// account-data notice has then reached the sync component). It returns
// the next token.
func setIgnored(t *testing.T, e *env, u *fixture.User, since string, ignored ...string) string {
	t.Helper()
	list := map[string]map[string]any{}
	for _, id := range ignored {
		list[id] = map[string]any{}
	}
	content, _ := json.Marshal(map[string]any{"ignored_users": list})
	lp := userapi.Localpart(strings.TrimPrefix(strings.Split(u.ID, ":")[0], "@"))
	if err := e.Users.SetAccountData(context.Background(), lp, "", userapi.IgnoredUserListType, content); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b := doSync(t, e.Fixture, u, "timeout=5000&since="+since)
		since = b.NextBatch
		if slices.ContainsFunc(b.AccountData.Events, func(ev clientEvent) bool { return ev.Type == userapi.IgnoredUserListType }) {
			return since
		}
	}
	t.Fatalf("%s's sync never showed the new %s", u.ID, userapi.IgnoredUserListType)
	return ""
}

// TestIgnoredUsers: once alice ignores bob, bob's messages (not his state
// events) leave her /sync, /messages and /context, and count for nothing
// in her notifications; once she no longer ignores him, his new messages
// reach her, and those sent meanwhile are not sent after all (spec:
// "Ignoring Users").
func TestIgnoredUsers(t *testing.T) {
	e := newEnv(t)
	first := doSync(t, e.Fixture, e.alice, "")
	since := setIgnored(t, e, e.alice, first.NextBatch, e.bob.ID)

	hidden := e.Send(t, e.bob, e.room, "hidden")
	// Bob's display name change: a state event, which alice still gets.
	nameID, err := e.Rooms.SendEvent(context.Background(), roomapi.SendEventRequest{
		RoomID: e.room, Sender: e.bob.ID, Type: "m.room.member", StateKey: &e.bob.ID,
		Content: []byte(`{"membership":"join","displayname":"Bobby"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	mine := e.Send(t, e.carolIn(t), e.room, "carol speaks")
	e.waitStored(t, mine)

	b := doSync(t, e.Fixture, e.alice, "timeout=0&since="+since)
	room := b.Rooms.Join[e.room]
	got := ids(room.Timeline.Events)
	if slices.Contains(got, hidden) || !slices.Contains(got, nameID) || got[len(got)-1] != mine {
		t.Fatalf("alice's timeline %v: want bob's name change %s and carol's message %s, not bob's message %s", got, nameID, mine, hidden)
	}
	if n := room.UnreadNotifications["notification_count"]; n != 1 {
		t.Errorf("alice's notification_count %d, want 1 (carol's message only)", n)
	}

	res := e.Do(t, http.MethodGet, roomPath(e.room, "messages?dir=b&limit=50"), e.alice.Token, nil)
	res.Want(t, http.StatusOK)
	var page struct{ Chunk []clientEvent }
	res.Decode(t, &page)
	for _, ev := range page.Chunk {
		if ev.Sender == e.bob.ID && ev.StateKey == nil {
			t.Fatalf("/messages shows bob's message %s to alice", ev.EventID)
		}
	}
	if !slices.Contains(ids(page.Chunk), nameID) {
		t.Fatalf("/messages hides bob's state event %s: %v", nameID, ids(page.Chunk))
	}

	res = e.Do(t, http.MethodGet, roomPath(e.room, "context/"+url.PathEscape(mine)+"?limit=10"), e.alice.Token, nil)
	res.Want(t, http.StatusOK)
	var cx struct {
		Before []clientEvent `json:"events_before"`
	}
	res.Decode(t, &cx)
	if slices.Contains(ids(cx.Before), hidden) || !slices.Contains(ids(cx.Before), nameID) {
		t.Fatalf("/context before carol's message %v: want bob's name change, not his message", ids(cx.Before))
	}

	// Bob, not ignoring anyone, still sees everything.
	bobs := doSync(t, e.Fixture, e.bob, "")
	if !slices.Contains(ids(bobs.Rooms.Join[e.room].Timeline.Events), hidden) {
		t.Fatal("bob does not see his own message")
	}

	since = setIgnored(t, e, e.alice, b.NextBatch)
	after := e.Send(t, e.bob, e.room, "heard again")
	e.waitStored(t, after)
	b = doSync(t, e.Fixture, e.alice, "timeout=0&since="+since)
	if got := ids(b.Rooms.Join[e.room].Timeline.Events); !slices.Equal(got, []string{after}) {
		t.Fatalf("alice's timeline after unignoring %v, want only %s", got, after)
	}
}

// carolIn joins carol to the room (a third member, whose messages alice
// still sees) and returns her.
func (e *env) carolIn(t *testing.T) *fixture.User {
	t.Helper()
	e.Invite(t, e.alice, e.carol, e.room)
	e.Join(t, e.carol, e.room)
	return e.carol
}

// TestIgnoredUsersLongPoll: a long-polling /sync of a user who ignores the
// sender does not return for the sender's message, and does for the next
// message of someone else.
func TestIgnoredUsersLongPoll(t *testing.T) {
	e := newEnv(t)
	first := doSync(t, e.Fixture, e.alice, "")
	since := setIgnored(t, e, e.alice, first.NextBatch, e.bob.ID)
	got := make(chan syncBody, 1)
	go func() {
		res := e.Do(t, http.MethodGet, syncPath+"?timeout=10000&since="+since, e.alice.Token, nil)
		var b syncBody
		_ = json.Unmarshal(res.Body, &b)
		got <- b
	}()
	hidden := e.Send(t, e.bob, e.room, "hidden")
	e.waitStored(t, hidden)
	carol := e.carolIn(t)
	heard := e.Send(t, carol, e.room, "heard")
	b := <-got
	evs := ids(b.Rooms.Join[e.room].Timeline.Events)
	if slices.Contains(evs, hidden) || len(evs) == 0 {
		t.Fatalf("long poll answered %v: want carol's invite, join or message, not bob's %s", evs, hidden)
	}
	// Carol's invite or join may have woken it first; her message follows.
	for i := 0; !slices.Contains(evs, heard); i++ {
		if i == 3 {
			t.Fatalf("carol's message %s never came", heard)
		}
		b = doSync(t, e.Fixture, e.alice, "timeout=5000&since="+b.NextBatch)
		if evs = ids(b.Rooms.Join[e.room].Timeline.Events); slices.Contains(evs, hidden) {
			t.Fatalf("sync %v shows bob's %s", evs, hidden)
		}
	}
}
