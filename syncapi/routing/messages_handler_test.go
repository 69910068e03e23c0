package routing_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// messagesBody is a /messages answer.
type messagesBody struct {
	Start string        `json:"start"`
	End   string        `json:"end"`
	Chunk []clientEvent `json:"chunk"`
	State []clientEvent `json:"state"`
}

func decodeMessages(t *testing.T, res *fixture.Response) messagesBody {
	t.Helper()
	var b messagesBody
	res.Decode(t, &b)
	return b
}

// onlyMessages is a /messages filter parameter keeping m.room.message
// events.
var onlyMessages = "&filter=" + url.QueryEscape(`{"types":["m.room.message"]}`)

// wantBodies checks the message bodies of a /messages chunk.
func wantBodies(want ...string) func(t *testing.T, res *fixture.Response) {
	return func(t *testing.T, res *fixture.Response) {
		t.Helper()
		if got := bodies(decodeMessages(t, res).Chunk); !slices.Equal(got, want) {
			t.Fatalf("chunk bodies %q, want %q", got, want)
		}
	}
}

// TestMessages: GET /rooms/{roomId}/messages checks who asks before what
// they ask, maps each bad parameter to its Matrix error, and pages within
// what the user may see.
func TestMessages(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnvOn(t, db)
		path := roomPath(e.room, "messages")
		bob := e.bob.Token
		wrongType := url.QueryEscape(`{"types":"m.room.message"}`)
		cases := append(authCases(path+"?dir=b"), []reqCase{
			invalidParam("room ID without sigil", bob, roomPath("room:test.local", "messages?dir=b")),
			invalidParam("room alias for an ID", bob, roomPath("#room:test.local", "messages?dir=b")),
			invalidParam("NUL in the room ID", bob, "/_matrix/client/v3/rooms/%21a%00b:test.local/messages?dir=b"),
			forbidden("never a member", e.carol.Token, path+"?dir=b"),
			forbidden("unknown room", bob, roomPath("!nope:test.local", "messages?dir=b")),
			forbidden("forgotten room", e.erin.Token, path+"?dir=b"),
			forbidden("non-member with a bad dir learns only 403", e.carol.Token, path+"?dir=x"),
			invalidParam("dir missing", bob, path),
			invalidParam("dir neither b nor f", bob, path+"?dir=back"),
			badJSON("filter not JSON", bob, path+"?dir=b&filter=%7B"),
			badJSON("filter field of the wrong type", bob, path+"?dir=b&filter="+wrongType),
			invalidParam("negative limit", bob, path+"?dir=b&limit=-1"),
			invalidParam("limit not a number", bob, path+"?dir=b&limit=ten"),
			invalidParam("from not a token", bob, path+"?dir=b&from=yesterday"),
			invalidParam("from at negative zero", bob, path+"?dir=b&from=s-0"),
			invalidParam("to not a token", bob, path+"?dir=f&to=s1_"),
			{name: "member pages back", token: bob, path: path + "?dir=b&limit=100" + onlyMessages, status: http.StatusOK,
				check: wantBodies("after dave left", "three", "two", "one")},
			{name: "member pages forward", token: bob, path: path + "?dir=f&limit=100" + onlyMessages, status: http.StatusOK,
				check: wantBodies("one", "two", "three", "after dave left")},
			{name: "left member sees up to the leave", token: e.dave.Token, path: path + "?dir=b&limit=100" + onlyMessages,
				status: http.StatusOK, check: wantBodies("three", "two", "one")},
		}...)
		run(t, e.Fixture, http.MethodGet, cases)
	})
}

// TestMessagesPages: a full page carries an end token the next page starts
// from, without gaps or repeats; a short page carries none; to bounds a
// page; a limit of 0 still reads one event.
func TestMessagesPages(t *testing.T) {
	e := newEnv(t)
	path := roomPath(e.room, "messages")
	get := func(t *testing.T, query string) (messagesBody, map[string]any) {
		t.Helper()
		res := e.Do(t, http.MethodGet, path+"?"+query, e.bob.Token, nil)
		res.Want(t, http.StatusOK)
		return decodeMessages(t, res), res.JSON()
	}

	all, _ := get(t, "dir=b&limit=1000")
	first, raw := get(t, "dir=b&limit=2")
	if len(first.Chunk) != 2 || first.End == "" || !strings.HasPrefix(first.Start, "s") {
		t.Fatalf("first page: %d events, start %q, end %q; want 2 with both tokens", len(first.Chunk), first.Start, first.End)
	}
	if st, ok := raw["state"].([]any); !ok || len(st) != 0 {
		t.Fatalf("state %v, want an empty list without lazy loading", raw["state"])
	}
	second, _ := get(t, "dir=b&limit=2&from="+first.End)
	if second.Start != first.End {
		t.Fatalf("second page starts at %q, want the first's end %q", second.Start, first.End)
	}
	if got, want := append(ids(first.Chunk), ids(second.Chunk)...), ids(all.Chunk)[:4]; !slices.Equal(got, want) {
		t.Fatalf("two pages %v, want the newest four %v", got, want)
	}
	if _, hasEnd := raw["end"]; !hasEnd {
		t.Fatal("a full page without end")
	}
	// A short page that reached the room's start still has an end (as
	// Synapse's), and the page after it is empty, without one.
	whole, wholeRaw := get(t, "dir=b&limit=1000")
	if wholeRaw["end"] == nil {
		t.Fatal("a short page with events but no end")
	}
	if after, afterRaw := get(t, "dir=b&limit=1000&from="+whole.End); len(after.Chunk) != 0 || afterRaw["end"] != nil {
		t.Fatalf("past the room's start: %d events, end %v; want none and no end", len(after.Chunk), afterRaw["end"])
	}
	bounded, _ := get(t, "dir=b&limit=100&to="+first.End)
	if !slices.Equal(ids(bounded.Chunk), ids(first.Chunk)) {
		t.Fatalf("page down to the first page's end: %v, want %v", ids(bounded.Chunk), ids(first.Chunk))
	}
	forward, _ := get(t, "dir=f&limit=100&from="+first.End)
	if got, want := ids(forward.Chunk), []string{ids(first.Chunk)[1], ids(first.Chunk)[0]}; !slices.Equal(got, want) {
		t.Fatalf("forward from the first page's end: %v, want %v", got, want)
	}
	if one, _ := get(t, "dir=b&limit=0"); len(one.Chunk) != 1 || one.Chunk[0].EventID != e.late {
		t.Fatalf("limit 0: %v, want the newest event %s", ids(one.Chunk), e.late)
	}
}

// TestMessagesLazyMembers: with lazy_load_members, state holds the
// membership events of the chunk's senders and nothing else.
func TestMessagesLazyMembers(t *testing.T) {
	e := newEnv(t)
	filter := url.QueryEscape(`{"types":["m.room.message"],"lazy_load_members":true}`)
	for _, tc := range []struct {
		name, query string
		senders     []string
	}{
		{"backwards over alice's and bob's messages", "dir=b&limit=6", []string{e.alice.ID, e.bob.ID}},
		{"one message of alice's", "dir=b&limit=1", []string{e.alice.ID}},
		{"forwards from the start", "dir=f&limit=100", []string{e.alice.ID, e.bob.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.Do(t, http.MethodGet, roomPath(e.room, "messages?"+tc.query+"&filter="+filter), e.bob.Token, nil)
			res.Want(t, http.StatusOK)
			var got []string
			for _, s := range decodeMessages(t, res).State {
				if s.Type != "m.room.member" || s.StateKey == nil {
					t.Fatalf("state holds a %s event", s.Type)
				}
				got = append(got, *s.StateKey)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.senders))
			if !slices.Equal(got, want) {
				t.Fatalf("lazy members %v, want %v", got, want)
			}
		})
	}
}

// TestMessagesHistoryVisibility: what a member reads of the time before
// they joined follows the room's history visibility (spec: "History
// visibility"), and anyone may read a world-readable room without joining.
func TestMessagesHistoryVisibility(t *testing.T) {
	e := newEnv(t)
	var cases []reqCase
	for _, tc := range []struct {
		visibility string
		bobSees    []string
	}{
		{"shared", []string{"before the invite", "while invited", "after the join"}},
		{"invited", []string{"while invited", "after the join"}},
		{"joined", []string{"after the join"}},
		{"world_readable", []string{"before the invite", "while invited", "after the join"}},
	} {
		content := json.RawMessage(`{"history_visibility":"` + tc.visibility + `"}`)
		room := e.Room(t, e.alice, roomapi.CreateRoomRequest{
			Preset:       "private_chat",
			InitialState: []roomapi.StateEvent{{Type: "m.room.history_visibility", Content: content}},
		})
		e.Send(t, e.alice, room, "before the invite")
		e.Invite(t, e.alice, e.bob, room)
		e.Send(t, e.alice, room, "while invited")
		e.Join(t, e.bob, room)
		e.waitStored(t, e.Send(t, e.alice, room, "after the join"))
		path := roomPath(room, "messages?dir=f&limit=100") + onlyMessages
		cases = append(cases, reqCase{name: tc.visibility + ": member", token: e.bob.Token, path: path,
			status: http.StatusOK, check: wantBodies(tc.bobSees...)})
		stranger := forbidden(tc.visibility+": stranger", e.carol.Token, path)
		if tc.visibility == "world_readable" {
			stranger.status, stranger.errcode, stranger.check = http.StatusOK, "", wantBodies(tc.bobSees...)
		}
		cases = append(cases, stranger)
	}
	run(t, e.Fixture, http.MethodGet, cases)
}
