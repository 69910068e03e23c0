package routing_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/test/fixture"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

const syncPath = "/_matrix/client/v3/sync"

// syncBody is the part of a /sync answer the tests look at.
type syncBody struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Timeline struct {
				Events    []clientEvent `json:"events"`
				Limited   bool          `json:"limited"`
				PrevBatch string        `json:"prev_batch"`
			} `json:"timeline"`
			State               struct{ Events []clientEvent } `json:"state"`
			AccountData         struct{ Events []clientEvent } `json:"account_data"`
			UnreadNotifications map[string]int                 `json:"unread_notifications"`
		} `json:"join"`
		Invite map[string]struct {
			InviteState struct{ Events []clientEvent } `json:"invite_state"`
		} `json:"invite"`
		Leave map[string]struct {
			Timeline struct{ Events []clientEvent } `json:"timeline"`
		} `json:"leave"`
	} `json:"rooms"`
	AccountData struct{ Events []clientEvent } `json:"account_data"`
}

// doSync sends GET /sync with query as u and decodes the answer.
func doSync(t *testing.T, f *fixture.Fixture, u *fixture.User, query string) syncBody {
	t.Helper()
	res := f.Do(t, http.MethodGet, syncPath+"?"+query, u.Token, nil)
	res.Want(t, http.StatusOK)
	var b syncBody
	res.Decode(t, &b)
	return b
}

// postFilter uploads a filter for u and returns its ID.
func postFilter(t *testing.T, f *fixture.Fixture, u *fixture.User, filter string) string {
	t.Helper()
	res := f.Do(t, http.MethodPost, "/_matrix/client/v3/user/"+url.PathEscape(u.ID)+"/filter", u.Token, filter)
	res.Want(t, http.StatusOK)
	id, _ := res.JSON()["filter_id"].(string)
	if id == "" {
		t.Fatalf("no filter_id in %s", res.Body)
	}
	return id
}

// TestSync: GET /sync maps each bad parameter to its Matrix error before
// doing anything, and answers each user with the rooms of their
// membership.
func TestSync(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnvOn(t, db)
		alicesFilter := postFilter(t, e.Fixture, e.alice, `{"room":{"timeline":{"limit":1}}}`)
		bob := e.bob.Token
		includeLeave := url.QueryEscape(`{"room":{"include_leave":true}}`)
		cases := append(authCases(syncPath), []reqCase{
			invalidParam("since not a token", bob, syncPath+"?since=yesterday"),
			invalidParam("since negative", bob, syncPath+"?since=s-1"),
			invalidParam("since with a bad account-data part", bob, syncPath+"?since=s1_x"),
			invalidParam("timeout not a number", bob, syncPath+"?timeout=soon"),
			invalidParam("timeout negative", bob, syncPath+"?timeout=-1"),
			invalidParam("set_presence unknown", bob, syncPath+"?set_presence=away"),
			invalidParam("filter ID not a number", bob, syncPath+"?filter=abc"),
			notFound("unknown filter ID", bob, syncPath+"?filter=999999"),
			notFound("another user's filter", bob, syncPath+"?filter="+alicesFilter),
			badJSON("inline filter not JSON", bob, syncPath+"?filter=%7B"),
			badJSON("inline filter of the wrong shape", bob, syncPath+"?filter="+url.QueryEscape(`{"room":[]}`)),
			// set_presence=offline: a sync marking bob online would put
			// his presence in the section.
			{name: "initial sync has every section", token: bob, path: syncPath + "?set_presence=offline", status: http.StatusOK,
				check: wantSections},
			{name: "set_presence offline", token: bob, path: syncPath + "?set_presence=offline&timeout=0", status: http.StatusOK},
			{name: "own filter by ID", token: e.alice.Token, path: syncPath + "?filter=" + alicesFilter, status: http.StatusOK,
				check: func(t *testing.T, res *fixture.Response) {
					var b syncBody
					res.Decode(t, &b)
					tl := b.Rooms.Join[e.room].Timeline
					if len(tl.Events) != 1 || tl.Events[0].EventID != e.late || !tl.Limited || tl.PrevBatch == "" {
						t.Fatalf("timeline %v limited %v prev_batch %q; want only %s, limited, with prev_batch",
							ids(tl.Events), tl.Limited, tl.PrevBatch, e.late)
					}
				}},
			{name: "left room hidden by default", token: e.dave.Token, path: syncPath, status: http.StatusOK,
				check: wantRooms(nil, nil)},
			{name: "left room with include_leave", token: e.dave.Token, path: syncPath + "?filter=" + includeLeave, status: http.StatusOK,
				check: wantRooms(nil, []string{e.room})},
			{name: "forgotten room even with include_leave", token: e.erin.Token, path: syncPath + "?filter=" + includeLeave,
				status: http.StatusOK, check: wantRooms(nil, nil)},
			{name: "stranger sees no rooms", token: e.carol.Token, path: syncPath, status: http.StatusOK, check: wantRooms(nil, nil)},
			{name: "member sees their rooms", token: e.alice.Token, path: syncPath, status: http.StatusOK,
				check: wantRooms([]string{e.room, e.other}, nil)},
			{name: "token from the future answers as an initial sync", token: bob, path: syncPath + "?since=s999999&timeout=0",
				status: http.StatusOK, check: wantRooms([]string{e.room}, nil)},
		}...)
		run(t, e.Fixture, http.MethodGet, cases)
	})
}

// wantSections checks that an initial sync has every section, empty ones
// as empty objects and lists, and a next_batch token.
func wantSections(t *testing.T, res *fixture.Response) {
	t.Helper()
	var top map[string]json.RawMessage
	res.Decode(t, &top)
	// The one global account data of a user who set none is their push
	// rules (the defaults).
	var ad struct{ Events []struct{ Type string } }
	if err := json.Unmarshal(top["account_data"], &ad); err != nil || len(ad.Events) != 1 || ad.Events[0].Type != "m.push_rules" {
		t.Errorf("account_data: %s, want the default m.push_rules", top["account_data"])
	}
	for key, want := range map[string]string{
		"presence":     `{"events":[]}`,
		"to_device":    `{"events":[]}`,
		"device_lists": `{"changed":[],"left":[]}`,
	} {
		if string(top[key]) != want {
			t.Errorf("%s: %s, want %s", key, top[key], want)
		}
	}
	var b struct {
		NextBatch string                                `json:"next_batch"`
		Rooms     map[string]map[string]json.RawMessage `json:"rooms"`
	}
	res.Decode(t, &b)
	if !strings.HasPrefix(b.NextBatch, "s") {
		t.Errorf("next_batch %q", b.NextBatch)
	}
	for _, section := range []string{"join", "invite", "leave"} {
		if b.Rooms[section] == nil {
			t.Errorf("rooms.%s missing: %s", section, res.Body)
		}
	}
	room := b.Rooms["join"]
	if len(room) != 1 {
		t.Fatalf("bob's joined rooms: %s", res.Body)
	}
	for _, r := range room {
		var jr map[string]json.RawMessage
		_ = json.Unmarshal(r, &jr)
		for _, key := range []string{"timeline", "state", "account_data", "ephemeral", "summary", "unread_notifications"} {
			if jr[key] == nil {
				t.Errorf("joined room without %s: %s", key, r)
			}
		}
	}
}

// wantRooms checks the joined and left rooms of a sync answer.
func wantRooms(join, leave []string) func(t *testing.T, res *fixture.Response) {
	return func(t *testing.T, res *fixture.Response) {
		t.Helper()
		var b syncBody
		res.Decode(t, &b)
		gotJoin := slices.Sorted(maps.Keys(b.Rooms.Join))
		gotLeave := slices.Sorted(maps.Keys(b.Rooms.Leave))
		if !slices.Equal(gotJoin, slices.Sorted(slices.Values(join))) || !slices.Equal(gotLeave, slices.Sorted(slices.Values(leave))) {
			t.Fatalf("joined %v, left %v; want %v, %v", gotJoin, gotLeave, join, leave)
		}
	}
}

// TestSyncSections: what each section holds — an invite's stripped state,
// a left room's timeline up to the leave, account data globally and per
// room, a full-state resync.
func TestSyncSections(t *testing.T) {
	e := newEnv(t)
	frank := e.User(t, "frank")
	e.Invite(t, e.alice, frank, e.other)
	ctx := context.Background()
	e.waitStored(t, e.Send(t, e.alice, e.other, "before frank joins"))

	t.Run("invite", func(t *testing.T) {
		inv, ok := doSync(t, e.Fixture, frank, "").Rooms.Invite[e.other]
		if !ok {
			t.Fatal("no invite for frank")
		}
		var types []string
		for _, ev := range inv.InviteState.Events {
			// Only the create event comes whole (MSC4311).
			if ev.EventID != "" && ev.Type != "m.room.create" {
				t.Fatalf("stripped state with an event ID: %+v", ev)
			}
			types = append(types, ev.Type)
		}
		stripped := slices.Contains(types, "m.room.create") && slices.Contains(types, "m.room.member")
		if !stripped || slices.Contains(types, "m.room.message") {
			t.Fatalf("invite state types %v", types)
		}
	})
	t.Run("left room's timeline ends at the leave", func(t *testing.T) {
		b := doSync(t, e.Fixture, e.dave, "filter="+url.QueryEscape(`{"room":{"include_leave":true,"timeline":{"limit":2}}}`))
		evs := b.Rooms.Leave[e.room].Timeline.Events
		if len(evs) != 2 || evs[0].Content["body"] != "three" || evs[1].StateKey == nil || *evs[1].StateKey != e.dave.ID {
			t.Fatalf("dave's left room timeline: %+v", evs)
		}
	})
	t.Run("account data", func(t *testing.T) {
		first := doSync(t, e.Fixture, e.bob, "")
		lp := userapi.Localpart(strings.TrimPrefix(strings.Split(e.bob.ID, ":")[0], "@"))
		if err := e.Users.SetAccountData(ctx, lp, "", "m.test.global", json.RawMessage(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
		if err := e.Users.SetAccountData(ctx, lp, e.room, "m.test.room", json.RawMessage(`{"n":2}`)); err != nil {
			t.Fatal(err)
		}
		// The user API announces the change on the bus; a long poll wakes
		// when it arrives (and /sync reads the account data itself).
		var next syncBody
		for range 3 {
			next = doSync(t, e.Fixture, e.bob, "timeout=5000&since="+first.NextBatch)
			if len(next.AccountData.Events) > 0 && len(next.Rooms.Join[e.room].AccountData.Events) > 0 {
				break
			}
		}
		if len(next.AccountData.Events) != 1 || next.AccountData.Events[0].Type != "m.test.global" {
			t.Fatalf("global account data %+v", next.AccountData.Events)
		}
		room := next.Rooms.Join[e.room]
		if len(room.AccountData.Events) != 1 || room.AccountData.Events[0].Type != "m.test.room" || len(room.Timeline.Events) != 0 {
			t.Fatalf("room with only account data new: %+v", room)
		}
		if room.UnreadNotifications == nil {
			t.Fatal("joined room without unread_notifications")
		}
		again := doSync(t, e.Fixture, e.bob, "timeout=0&since="+next.NextBatch)
		if len(again.AccountData.Events) != 0 || len(again.Rooms.Join) != 0 {
			t.Fatalf("account data sent twice: %+v", again)
		}
	})
	t.Run("incremental, then full state", func(t *testing.T) {
		first := doSync(t, e.Fixture, e.bob, "")
		quiet := doSync(t, e.Fixture, e.bob, "timeout=0&since="+first.NextBatch)
		if len(quiet.Rooms.Join) != 0 || quiet.NextBatch == "" {
			t.Fatalf("nothing new, yet: %+v", quiet)
		}
		// The state is the room's before the timeline: with one event in
		// the timeline, all of the room's but the newest.
		limit1 := url.QueryEscape(`{"room":{"timeline":{"limit":1}}}`)
		full := doSync(t, e.Fixture, e.bob, "full_state=true&filter="+limit1+"&since="+first.NextBatch)
		var types []string
		for _, ev := range full.Rooms.Join[e.room].State.Events {
			types = append(types, ev.Type)
		}
		if !slices.Contains(types, "m.room.create") || !slices.Contains(types, "m.room.member") {
			t.Fatalf("full_state types %v, want the room's whole state", types)
		}
	})
}

// TestSyncLongPoll: a long poll returns as soon as an event for the user
// arrives, and a timeout of 0 returns at once.
func TestSyncLongPoll(t *testing.T) {
	e := newEnv(t)
	first := doSync(t, e.Fixture, e.bob, "")
	got := make(chan syncBody, 1)
	go func() {
		res := e.Do(t, http.MethodGet, syncPath+"?timeout=10000&since="+first.NextBatch, e.bob.Token, nil)
		var b syncBody
		_ = json.Unmarshal(res.Body, &b)
		got <- b
	}()
	id := e.Send(t, e.alice, e.room, "wake up")
	b := <-got
	if evs := b.Rooms.Join[e.room].Timeline.Events; len(evs) != 1 || evs[0].EventID != id {
		t.Fatalf("long poll answered %+v, want %s", b.Rooms.Join, id)
	}
	if b.NextBatch == first.NextBatch {
		t.Fatalf("next_batch did not move from %q", first.NextBatch)
	}
}
