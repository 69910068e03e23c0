package routing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// relEnv is env with a thread, edits, a reference and a reaction on
// e.msgs[0] (alice's "one"), sent while everyone was still in the room,
// and on e.late (after dave left) a thread dave may not see.
type relEnv struct {
	*env
	root                      string
	t1, t2, edit1, edit2, ref string
	reaction, lateReply       string
}

func (e *env) sendRel(t *testing.T, u *fixture.User, evType, body, parent, relType string, extra map[string]any) string {
	t.Helper()
	content := map[string]any{"msgtype": "m.text", "body": body,
		"m.relates_to": map[string]any{"event_id": parent, "rel_type": relType}}
	if relType == "m.annotation" {
		content = map[string]any{"m.relates_to": map[string]any{"event_id": parent, "rel_type": relType, "key": body}}
	}
	for k, v := range extra {
		content[k] = v
	}
	js, _ := json.Marshal(content)
	id, err := e.Rooms.SendEvent(context.Background(), roomapi.SendEventRequest{
		RoomID: e.room, Sender: u.ID, Type: evType, Content: js,
	})
	if err != nil {
		t.Fatalf("sending %s: %v", body, err)
	}
	return id
}

func newRelEnv(t *testing.T) *relEnv {
	e := &relEnv{env: newEnv(t)}
	e.root = e.msgs[0]
	newContent := func(b string) map[string]any {
		return map[string]any{"m.new_content": map[string]any{"msgtype": "m.text", "body": b}}
	}
	e.t1 = e.sendRel(t, e.bob, "m.room.message", "thread 1", e.root, "m.thread", nil)
	e.edit1 = e.sendRel(t, e.alice, "m.room.message", "* one!", e.root, "m.replace", newContent("one!"))
	// bob may not edit alice's message: never bundled.
	e.sendRel(t, e.bob, "m.room.message", "* bob's", e.root, "m.replace", newContent("bob's"))
	e.edit2 = e.sendRel(t, e.alice, "m.room.message", "* one!!", e.root, "m.replace", newContent("one!!"))
	e.ref = e.sendRel(t, e.bob, "m.room.message", "see", e.root, "m.reference", nil)
	e.reaction = e.sendRel(t, e.bob, "m.reaction", "👍", e.root, "m.annotation", nil)
	e.t2 = e.sendRel(t, e.alice, "m.room.message", "thread 2", e.root, "m.thread", nil)
	e.lateReply = e.sendRel(t, e.alice, "m.room.message", "late thread", e.late, "m.thread", nil)
	// A thread reply in another room naming the root: not one of its
	// children anywhere.
	cross, err := e.Rooms.SendEvent(context.Background(), roomapi.SendEventRequest{RoomID: e.other, Sender: e.alice.ID,
		Type: "m.room.message", Content: []byte(`{"body":"elsewhere","m.relates_to":{"rel_type":"m.thread","event_id":"` + e.root + `"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	e.waitStored(t, e.lateReply)
	e.waitStored(t, cross)
	return e
}

// relationsBody is a /relations or /threads answer.
type relationsBody struct {
	Chunk []struct {
		clientEvent
		Unsigned struct {
			Relations map[string]json.RawMessage `json:"m.relations"`
		} `json:"unsigned"`
	} `json:"chunk"`
	NextBatch      string `json:"next_batch"`
	PrevBatch      string `json:"prev_batch"`
	RecursionDepth *int   `json:"recursion_depth"`
}

func (b relationsBody) ids() []string {
	out := []string{}
	for _, c := range b.Chunk {
		out = append(out, c.EventID)
	}
	return out
}

// wantIDs checks a /relations or /threads answer's chunk.
func wantIDs(want ...string) func(t *testing.T, res *fixture.Response) {
	return func(t *testing.T, res *fixture.Response) {
		t.Helper()
		var b relationsBody
		res.Decode(t, &b)
		if !slices.Equal(b.ids(), want) {
			t.Fatalf("chunk %v, want %v; body %s", b.ids(), want, res.Body)
		}
	}
}

// TestRelationsEndpoint: GET /v1/rooms/{roomId}/relations/{eventId}[/relType[/eventType]]
// checks its parameters, answers 404 for a parent the user may not see,
// filters by rel_type and type, and pages both ways.
func TestRelationsEndpoint(t *testing.T) {
	e := newRelEnv(t)
	base := "/_matrix/client/v1/rooms/" + url.PathEscape(e.room) + "/relations/"
	path := base + url.PathEscape(e.root)
	bob := e.bob.Token
	cases := append(authCases(path), []reqCase{
		invalidParam("room ID without sigil", bob, "/_matrix/client/v1/rooms/room/relations/"+url.PathEscape(e.root)),
		invalidParam("dir neither f nor b", bob, path+"?dir=up"),
		invalidParam("limit not a number", bob, path+"?limit=ten"),
		invalidParam("from not a token", bob, path+"?from=yesterday"),
		invalidParam("recurse not a boolean", bob, path+"?recurse=yes"),
		notFound("never a member", e.carol.Token, path),
		notFound("unknown parent", bob, base+url.PathEscape("$nope")),
		notFound("parent after the leave", e.dave.Token, base+url.PathEscape(e.late)),
		{name: "by type", token: bob, path: path + "/m.thread/m.room.message", status: http.StatusOK, check: wantIDs(e.t2, e.t1)},
		{name: "forwards by rel_type", token: bob, path: path + "/m.replace?dir=f", status: http.StatusOK,
			check: func(t *testing.T, res *fixture.Response) {
				var b relationsBody
				res.Decode(t, &b)
				if len(b.Chunk) != 3 || b.Chunk[0].EventID != e.edit1 || b.Chunk[2].EventID != e.edit2 || b.RecursionDepth != nil {
					t.Fatalf("edits %v", b.ids())
				}
			}},
		{name: "late thread for a member", token: bob, path: base + url.PathEscape(e.late), status: http.StatusOK,
			check: wantIDs(e.lateReply)},
	}...)
	run(t, e.Fixture, http.MethodGet, cases)

	t.Run("pages", func(t *testing.T) {
		var got []string
		from := ""
		for i := 0; i < 10; i++ {
			q := "?limit=2"
			if from != "" {
				q += "&from=" + url.QueryEscape(from)
			}
			res := e.Do(t, http.MethodGet, path+q, bob, nil)
			res.Want(t, http.StatusOK)
			var b relationsBody
			res.Decode(t, &b)
			if from != "" && b.PrevBatch != from {
				t.Fatalf("prev_batch %q, want %q", b.PrevBatch, from)
			}
			got = append(got, b.ids()...)
			if from = b.NextBatch; from == "" {
				break
			}
		}
		if len(got) != 7 || got[0] != e.t2 || got[6] != e.t1 {
			t.Fatalf("paged %v", got)
		}
	})
	t.Run("recurse", func(t *testing.T) {
		reply := e.sendRel(t, e.alice, "m.reaction", "🎉", e.t1, "m.annotation", nil)
		e.waitStored(t, reply)
		res := e.Do(t, http.MethodGet, path+"/m.annotation?recurse=true", bob, nil)
		res.Want(t, http.StatusOK)
		var b relationsBody
		res.Decode(t, &b)
		if !slices.Equal(b.ids(), []string{reply, e.reaction}) || b.RecursionDepth == nil || *b.RecursionDepth != 2 {
			t.Fatalf("recursive annotations %v depth %v; body %s", b.ids(), b.RecursionDepth, res.Body)
		}
	})
}

// TestBundledAggregations: the root, served by /event, carries its thread
// summary (for bob, who replied), the latest valid edit whole (bob's edit
// of alice's message ignored, the content left as it was) and its
// references; redacting the latest edit falls back to the one before.
func TestBundledAggregations(t *testing.T) {
	e := newRelEnv(t)
	path := roomPath(e.room, "event/"+url.PathEscape(e.root))
	relations := func(token string) map[string]any {
		res := e.Do(t, http.MethodGet, path, token, nil)
		res.Want(t, http.StatusOK)
		if body, _ := res.JSON()["content"].(map[string]any)["body"].(string); body != "one" {
			t.Fatalf("content replaced: %s", res.Body)
		}
		rels, _ := res.JSON()["unsigned"].(map[string]any)["m.relations"].(map[string]any)
		return rels
	}
	rels := relations(e.bob.Token)
	thread, _ := rels["m.thread"].(map[string]any)
	latest, _ := thread["latest_event"].(map[string]any)
	if thread["count"] != float64(2) || thread["current_user_participated"] != true || latest["event_id"] != e.t2 {
		t.Fatalf("m.thread %v", thread)
	}
	if edit, _ := rels["m.replace"].(map[string]any); edit["event_id"] != e.edit2 || edit["content"] == nil {
		t.Fatalf("m.replace %v", rels["m.replace"])
	}
	refs := fmt.Sprint(rels["m.reference"])
	if refs != fmt.Sprintf("map[chunk:[map[event_id:%s]]]", e.ref) {
		t.Fatalf("m.reference %s", refs)
	}
	if _, ok := rels["m.annotation"]; ok {
		t.Fatalf("annotations are not aggregated by the server (spec v1.7): %v", rels)
	}
	// carol may not see the room; dave left before any of the children
	// were sent: he sees the root with no aggregations.
	if rels := relations(e.dave.Token); len(rels) != 0 {
		t.Fatalf("dave's m.relations %v", rels)
	}
	redact := roomapi.RedactRequest{RoomID: e.room, Sender: e.alice.ID, EventID: e.edit2}
	if _, err := e.Rooms.Redact(context.Background(), redact); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if edit, _ := relations(e.bob.Token)["m.replace"].(map[string]any); edit["event_id"] == e.edit1 {
			return
		}
		e.waitStored(t, e.edit2)
		e.sync.Notifier.WaitAdvance(context.Background(), e.sync.Notifier.Pos())
	}
	t.Fatalf("after redacting the latest edit: m.replace %v", relations(e.bob.Token)["m.replace"])
}

// TestThreadsEndpointHandler: GET /v1/rooms/{roomId}/threads lists thread
// roots by latest reply, filters participation and pages.
func TestThreadsEndpointHandler(t *testing.T) {
	e := newRelEnv(t)
	path := "/_matrix/client/v1/rooms/" + url.PathEscape(e.room) + "/threads"
	bob := e.bob.Token
	cases := append(authCases(path), []reqCase{
		invalidParam("room ID without sigil", bob, "/_matrix/client/v1/rooms/room/threads"),
		invalidParam("include unknown", bob, path+"?include=mine"),
		invalidParam("from not a token", bob, path+"?from=x"),
		forbidden("never a member", e.carol.Token, path),
		{name: "all", token: bob, path: path, status: http.StatusOK, check: wantIDs(e.late, e.root)},
		{name: "participated", token: bob, path: path + "?include=participated", status: http.StatusOK, check: wantIDs(e.root)},
		{name: "left member sees no thread replied to after the leave", token: e.dave.Token, path: path, status: http.StatusOK,
			check: wantIDs()},
		{name: "summary", token: bob, path: path + "?limit=1", status: http.StatusOK, check: func(t *testing.T, res *fixture.Response) {
			var b relationsBody
			res.Decode(t, &b)
			if len(b.Chunk) != 1 || b.NextBatch == "" || len(b.Chunk[0].Unsigned.Relations["m.thread"]) == 0 {
				t.Fatalf("first page %s", res.Body)
			}
			next := e.Do(t, http.MethodGet, path+"?limit=1&from="+url.QueryEscape(b.NextBatch), bob, nil)
			wantIDs(e.root)(t, next)
		}},
	}...)
	run(t, e.Fixture, http.MethodGet, cases)
}

// TestSyncBundles: /sync timelines carry the aggregations, computed for
// all the rooms of the response together.
func TestSyncBundles(t *testing.T) {
	e := newRelEnv(t)
	filter := url.QueryEscape(`{"room":{"timeline":{"limit":100}}}`)
	res := e.Do(t, http.MethodGet, "/_matrix/client/v3/sync?filter="+filter, e.bob.Token, nil)
	res.Want(t, http.StatusOK)
	var body struct {
		Rooms struct {
			Join map[string]struct {
				Timeline struct {
					Events []struct {
						EventID  string `json:"event_id"`
						Unsigned struct {
							Relations map[string]map[string]any `json:"m.relations"`
						} `json:"unsigned"`
					} `json:"events"`
				} `json:"timeline"`
			} `json:"join"`
		} `json:"rooms"`
	}
	res.Decode(t, &body)
	found := map[string]map[string]map[string]any{}
	for _, ev := range body.Rooms.Join[e.room].Timeline.Events {
		found[ev.EventID] = ev.Unsigned.Relations
	}
	root, ok := found[e.root]
	if !ok {
		t.Fatalf("root not in the timeline: %s", res.Body)
	}
	if root["m.thread"]["count"] != float64(2) || root["m.replace"]["event_id"] != e.edit2 {
		t.Fatalf("root's bundle %v", root)
	}
	if late := found[e.late]; late["m.thread"]["count"] != float64(1) || late["m.thread"]["current_user_participated"] != false {
		t.Fatalf("late's bundle %v", late)
	}
	if rels := found[e.t1]; len(rels) != 0 {
		t.Fatalf("a thread reply with no children has a bundle: %v", rels)
	}
}
