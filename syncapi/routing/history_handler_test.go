package routing_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/fixture"
)

// wantEventID checks the event_id of an answer.
func wantEventID(want string) func(t *testing.T, res *fixture.Response) {
	return func(t *testing.T, res *fixture.Response) {
		t.Helper()
		if got, _ := res.JSON()["event_id"].(string); got != want {
			t.Fatalf("event_id %q, want %q; body %s", got, want, res.Body)
		}
	}
}

// TestTimestampToEvent: GET /v1/rooms/{roomId}/timestamp_to_event checks
// its parameters, then the user's access, and finds events only in what
// the user may see.
func TestTimestampToEvent(t *testing.T) {
	e := newEnv(t)
	path := "/_matrix/client/v1/rooms/" + url.PathEscape(e.room) + "/timestamp_to_event"
	later := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	bob := e.bob.Token
	cases := append(authCases(path+"?ts=0&dir=f"), []reqCase{
		invalidParam("room ID without sigil", bob, "/_matrix/client/v1/rooms/room/timestamp_to_event?ts=0&dir=f"),
		missingParam("ts missing", bob, path+"?dir=f"),
		invalidParam("ts negative", bob, path+"?ts=-1&dir=f"),
		invalidParam("ts not a number", bob, path+"?ts=today&dir=f"),
		missingParam("dir missing", bob, path+"?ts=0"),
		invalidParam("dir neither f nor b", bob, path+"?ts=0&dir=up"),
		forbidden("never a member", e.carol.Token, path+"?ts=0&dir=f"),
		forbidden("forgotten room", e.erin.Token, path+"?ts=0&dir=f"),
		notFound("nothing after the future", bob, path+"?dir=f&ts="+later),
		{name: "newest event", token: bob, path: path + "?dir=b&ts=" + later, status: http.StatusOK, check: wantEventID(e.late)},
		{name: "left member's newest is before the leave", token: e.dave.Token, path: path + "?dir=b&ts=" + later,
			status: http.StatusOK, check: func(t *testing.T, res *fixture.Response) {
				if id, _ := res.JSON()["event_id"].(string); id == "" || id == e.late {
					t.Fatalf("dave found %q, which he may not see", id)
				}
				if _, ok := res.JSON()["origin_server_ts"].(float64); !ok {
					t.Fatalf("no origin_server_ts: %s", res.Body)
				}
			}},
	}...)
	run(t, e.Fixture, http.MethodGet, cases)
}

// TestEventContext: GET /rooms/{roomId}/context/{eventId} answers only for
// an event the user may see, split around it as asked.
func TestEventContext(t *testing.T) {
	e := newEnv(t)
	ctxPath := func(room, event string) string { return roomPath(room, "context/"+url.PathEscape(event)) }
	path := ctxPath(e.room, e.msgs[1])
	bob := e.bob.Token
	cases := append(authCases(path), []reqCase{
		invalidParam("room ID without sigil", bob, ctxPath("room", e.msgs[1])),
		invalidParam("negative limit", bob, path+"?limit=-2"),
		badJSON("filter not JSON", bob, path+"?filter=%5B"),
		forbidden("never a member", e.carol.Token, path),
		forbidden("forgotten room", e.erin.Token, path),
		notFound("unknown event", bob, ctxPath(e.room, "$nope")),
		notFound("event of another room", e.alice.Token, ctxPath(e.room, e.otherMsg)),
		notFound("event after the user left", e.dave.Token, ctxPath(e.room, e.late)),
		{name: "one either side", token: bob, path: path + "?limit=2", status: http.StatusOK,
			check: func(t *testing.T, res *fixture.Response) {
				var b struct {
					Event        clientEvent   `json:"event"`
					EventsBefore []clientEvent `json:"events_before"`
					EventsAfter  []clientEvent `json:"events_after"`
					State        []clientEvent `json:"state"`
					Start, End   string
				}
				res.Decode(t, &b)
				before, after := ids(b.EventsBefore), ids(b.EventsAfter)
				if b.Event.EventID != e.msgs[1] || !slices.Equal(before, e.msgs[:1]) || !slices.Equal(after, e.msgs[2:]) {
					t.Fatalf("context %s | %v | %v", b.Event.EventID, before, after)
				}
				if len(b.State) == 0 || b.Start == "" || b.End == "" {
					t.Fatalf("state %d events, start %q, end %q", len(b.State), b.Start, b.End)
				}
			}},
		{name: "limit 0: the event alone", token: bob, path: path + "?limit=0", status: http.StatusOK,
			check: func(t *testing.T, res *fixture.Response) {
				m := res.JSON()
				if len(m["events_before"].([]any)) != 0 || len(m["events_after"].([]any)) != 0 {
					t.Fatalf("limit 0 gave %s", res.Body)
				}
			}},
	}...)
	run(t, e.Fixture, http.MethodGet, cases)
}

// TestGetEvent: GET /rooms/{roomId}/event/{eventId} answers 404 for every
// event the user may not read, whether or not it exists (spec: "M_NOT_FOUND
// if the event was not found or you do not have permission to read this
// event").
func TestGetEvent(t *testing.T) {
	e := newEnv(t)
	evPath := func(room, event string) string { return roomPath(room, "event/"+url.PathEscape(event)) }
	path := evPath(e.room, e.msgs[1])
	bob := e.bob.Token
	cases := append(authCases(path), []reqCase{
		invalidParam("room ID without sigil", bob, evPath("room", e.msgs[1])),
		notFound("never a member", e.carol.Token, path),
		notFound("forgotten room", e.erin.Token, path),
		notFound("unknown event", bob, evPath(e.room, "$nope")),
		notFound("event of another room", e.alice.Token, evPath(e.room, e.otherMsg)),
		notFound("event after the user left", e.dave.Token, evPath(e.room, e.late)),
		{name: "visible event", token: bob, path: path, status: http.StatusOK, check: wantEventID(e.msgs[1])},
		{name: "event before the user left", token: e.dave.Token, path: path, status: http.StatusOK, check: wantEventID(e.msgs[1])},
	}...)
	run(t, e.Fixture, http.MethodGet, cases)
}

// TestMessagesBetween: GET .../messages_between checks its window and
// paging parameters and pages through the events sent in the window.
func TestMessagesBetween(t *testing.T) {
	e := newEnv(t)
	path := "/_matrix/client/unstable/im.myelin/rooms/" + url.PathEscape(e.room) + "/messages_between"
	later := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	window := "?from_ts=0&to_ts=" + later
	bob := e.bob.Token
	var page struct {
		Chunk     []clientEvent `json:"chunk"`
		NextBatch string        `json:"next_batch"`
	}
	res := e.Do(t, http.MethodGet, path+window+"&limit=2", bob, nil)
	res.Want(t, http.StatusOK)
	res.Decode(t, &page)
	if len(page.Chunk) != 2 || page.NextBatch == "" {
		t.Fatalf("first page: %d events, next_batch %q", len(page.Chunk), page.NextBatch)
	}
	cases := append(authCases(path+window), []reqCase{
		invalidParam("room ID without sigil", bob, "/_matrix/client/unstable/im.myelin/rooms/room/messages_between"+window),
		missingParam("from_ts missing", bob, path+"?to_ts=1"),
		missingParam("to_ts missing", bob, path+"?from_ts=1"),
		invalidParam("to_ts not a number", bob, path+"?from_ts=0&to_ts=soon"),
		invalidParam("window backwards", bob, path+"?from_ts=10&to_ts=5"),
		invalidParam("limit not a number", bob, path+window+"&limit=x"),
		invalidParam("from not a token", bob, path+window+"&from=x"),
		forbidden("never a member", e.carol.Token, path+window),
		forbidden("forgotten room", e.erin.Token, path+window),
		{name: "last page has no next_batch", token: bob, path: path + window + "&limit=1000", status: http.StatusOK,
			check: func(t *testing.T, res *fixture.Response) {
				if _, ok := res.JSON()["next_batch"]; ok {
					t.Fatalf("next_batch on the last page: %s", res.Body)
				}
				var all struct{ Chunk []clientEvent }
				res.Decode(t, &all)
				if !slices.Equal(ids(all.Chunk[:2]), ids(page.Chunk)) || all.Chunk[len(all.Chunk)-1].EventID != e.late {
					t.Fatalf("whole window %v does not start with the first page %v and end with %s",
						ids(all.Chunk), ids(page.Chunk), e.late)
				}
			}},
		{name: "next page goes on from the first", token: bob, path: path + window + "&limit=1&from=" + page.NextBatch,
			status: http.StatusOK,
			check: func(t *testing.T, res *fixture.Response) {
				var next struct{ Chunk []clientEvent }
				res.Decode(t, &next)
				if len(next.Chunk) != 1 || slices.Contains(ids(page.Chunk), next.Chunk[0].EventID) {
					t.Fatalf("page after %s: %v repeats %v", page.NextBatch, ids(next.Chunk), ids(page.Chunk))
				}
			}},
	}...)
	run(t, e.Fixture, http.MethodGet, cases)
}
