package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/server"
)

// histEvent is one event of a room's timeline as the test knows it.
type histEvent struct {
	ID   id.EventID
	TS   int64
	Type string
	Body string
}

func histEvents(evs []*event.Event) []histEvent {
	out := make([]histEvent, 0, len(evs))
	for _, e := range evs {
		b, _ := e.Content.Raw["body"].(string)
		out = append(out, histEvent{ID: e.ID, TS: e.Timestamp, Type: e.Type.Type, Body: b})
	}
	return out
}

func histIDs(evs []histEvent) []id.EventID {
	out := make([]id.EventID, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func histEventIDs(evs []*event.Event) []id.EventID {
	out := make([]id.EventID, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func histReversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// fullTimeline waits until the sync component has an event with body last
// in the room and returns everything c may read there, oldest first.
func histTimeline(t *testing.T, c *mautrix.Client, roomID id.RoomID, last string) []histEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Messages(ctx(t), roomID, "", "", mautrix.DirectionBackward, nil, 1000)
		// Until the stream has the user's join, the room is not theirs.
		if err != nil && !errors.Is(err, mautrix.MForbidden) {
			t.Fatal(err)
		}
		if err == nil && slices.Contains(bodies(resp.Chunk), last) {
			fwd, err := c.Messages(ctx(t), roomID, "", "", mautrix.DirectionForward, nil, 1000)
			if err != nil {
				t.Fatal(err)
			}
			return histEvents(fwd.Chunk)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q never reached the sync stream", last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nearest is the reference timestamp_to_event: the first event (by
// timestamp, then timeline order) at or after ts forwards, the last at or
// before it backwards.
func histNearest(tl []histEvent, ts int64, forward bool) (histEvent, bool) {
	var best histEvent
	found := false
	for _, e := range tl {
		if forward && e.TS >= ts && (!found || e.TS < best.TS) {
			best, found = e, true
		}
		if !forward && e.TS <= ts && (!found || e.TS >= best.TS) {
			best, found = e, true
		}
	}
	return best, found
}

func histTSToEvent(
	t *testing.T, c *mautrix.Client, roomID id.RoomID, ts int64, dir mautrix.Direction,
) (*mautrix.RespTimestampToEvent, error) {
	t.Helper()
	return c.TimestampToEvent(ctx(t), roomID, time.UnixMilli(ts), dir)
}

func histBetweenURL(srv *server.Server, roomID id.RoomID, query string) string {
	return srv.ClientURL() + "/_matrix/client/unstable/im.myelin/rooms/" + url.PathEscape(string(roomID)) + "/messages_between?" + query
}

// histBetween calls messages_between once and returns the chunk's event IDs
// and next_batch.
func histBetween(
	t *testing.T, srv *server.Server, c *mautrix.Client, roomID id.RoomID, fromTS, toTS int64, limit int, from string,
) ([]id.EventID, string) {
	t.Helper()
	q := url.Values{"from_ts": {strconv.FormatInt(fromTS, 10)}, "to_ts": {strconv.FormatInt(toTS, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if from != "" {
		q.Set("from", from)
	}
	resp := do(t, http.MethodGet, histBetweenURL(srv, roomID, q.Encode()), c.AccessToken, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("messages_between %s: %d %v", q.Encode(), resp.Status, resp.Body)
	}
	chunk, ok := resp.Body["chunk"].([]any)
	if !ok {
		t.Fatalf("messages_between: no chunk array: %v", resp.Body)
	}
	var out []id.EventID
	for _, e := range chunk {
		out = append(out, id.EventID(e.(map[string]any)["event_id"].(string)))
	}
	next, _ := resp.Body["next_batch"].(string)
	if _, present := resp.Body["next_batch"]; present && next == "" {
		t.Fatalf("messages_between: empty next_batch: %v", resp.Body)
	}
	return out, next
}

// histBetweenAll pages messages_between to the end, limit at a time.
func histBetweenAll(
	t *testing.T, srv *server.Server, c *mautrix.Client, roomID id.RoomID, fromTS, toTS int64, limit int,
) ([]id.EventID, int) {
	t.Helper()
	var all []id.EventID
	from := ""
	for pages := 1; pages < 1000; pages++ {
		chunk, next := histBetween(t, srv, c, roomID, fromTS, toTS, limit, from)
		if limit > 0 && len(chunk) > limit {
			t.Fatalf("page of %d events with limit %d", len(chunk), limit)
		}
		all = append(all, chunk...)
		if next == "" {
			return all, pages
		}
		if len(chunk) == 0 {
			t.Fatal("empty page with a next_batch")
		}
		from = next
	}
	t.Fatal("messages_between never ends")
	return nil, 0
}

func histWantIDs(t *testing.T, what string, got, want []id.EventID) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// TestHistoryEndpoints: timestamp_to_event, /context and the
// messages_between extension over a room with three bursts of messages
// tens of milliseconds apart, on SQLite and PostgreSQL.
func TestHistoryEndpoints(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		eve := register(t, srv, "eve", "long enough")
		room, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "private_chat"})
		if err != nil {
			t.Fatal(err)
		}
		roomID := room.RoomID

		// Three groups of three messages; the gaps give every group its own
		// span of timestamps, apart from the room's creation too.
		const groups, perGroup, gap = 3, 3, 40 * time.Millisecond
		var sent [groups][perGroup]histEvent
		for g := range groups {
			time.Sleep(gap)
			for i := range perGroup {
				body := fmt.Sprintf("g%dm%d", g, i)
				resp, err := alice.SendText(ctx(t), roomID, body)
				if err != nil {
					t.Fatal(err)
				}
				sent[g][i] = histEvent{ID: resp.EventID, Body: body, Type: "m.room.message"}
			}
		}
		for g := range groups {
			for i := range perGroup {
				e, err := alice.GetEvent(ctx(t), roomID, sent[g][i].ID)
				if err != nil {
					t.Fatal(err)
				}
				sent[g][i].TS = e.Timestamp
			}
			if g > 0 && sent[g][0].TS-sent[g-1][perGroup-1].TS < 2 {
				t.Fatalf("groups %d and %d are not apart: %d, %d", g-1, g, sent[g-1][perGroup-1].TS, sent[g][0].TS)
			}
		}
		first, last := sent[0][0], sent[groups-1][perGroup-1]
		tl := histTimeline(t, alice, roomID, last.Body)
		if tl[0].Type != "m.room.create" || tl[len(tl)-1].ID != last.ID {
			t.Fatalf("timeline runs from %s to %s", tl[0].Type, tl[len(tl)-1].ID)
		}
		index := map[id.EventID]int{}
		for i, e := range tl {
			index[e.ID] = i
			if e.Type == "m.room.message" {
				g, m := int(e.Body[1]-'0'), int(e.Body[3]-'0')
				if sent[g][m].ID != e.ID || sent[g][m].TS != e.TS {
					t.Fatalf("/messages and /event disagree on %s: %+v vs %+v", e.Body, e, sent[g][m])
				}
			}
		}
		minTS, maxTS := tl[0].TS, tl[0].TS
		for _, e := range tl {
			minTS, maxTS = min(minTS, e.TS), max(maxTS, e.TS)
		}

		t.Run("timestamp_to_event", func(t *testing.T) {
			check := func(ts int64, dir mautrix.Direction, want id.EventID) {
				t.Helper()
				ref, ok := histNearest(tl, ts, dir == mautrix.DirectionForward)
				if !ok || ref.ID != want {
					t.Fatalf("test bug: reference for %d %c is %v, expected %s", ts, dir, ref.ID, want)
				}
				resp, err := histTSToEvent(t, alice, roomID, ts, dir)
				if err != nil {
					t.Fatalf("ts %d dir %c: %v", ts, dir, err)
				}
				if resp.EventID != want || resp.Timestamp.UnixMilli() != tl[index[want]].TS {
					t.Fatalf("ts %d dir %c: got %s at %d, want %s at %d",
						ts, dir, resp.EventID, resp.Timestamp.UnixMilli(), want, tl[index[want]].TS)
				}
			}
			// Exact hits: a group's first message forwards, its last
			// backwards (the gaps keep the neighbours off those instants).
			for g := range groups {
				check(sent[g][0].TS, mautrix.DirectionForward, sent[g][0].ID)
				check(sent[g][perGroup-1].TS, mautrix.DirectionBackward, sent[g][perGroup-1].ID)
			}
			// Between two groups: the next one forwards, the previous one
			// backwards.
			for g := 1; g < groups; g++ {
				mid := (sent[g-1][perGroup-1].TS + sent[g][0].TS) / 2
				check(mid, mautrix.DirectionForward, sent[g][0].ID)
				check(mid, mautrix.DirectionBackward, sent[g-1][perGroup-1].ID)
			}
			// Every event's instant, both ways, against the reference.
			for _, e := range tl {
				for _, dir := range []mautrix.Direction{mautrix.DirectionForward, mautrix.DirectionBackward} {
					ref, _ := histNearest(tl, e.TS, dir == mautrix.DirectionForward)
					check(e.TS, dir, ref.ID)
				}
			}
			// Before the first event: nothing backwards, the creation forwards.
			_, err := histTSToEvent(t, alice, roomID, minTS-1, mautrix.DirectionBackward)
			wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			check(minTS-1, mautrix.DirectionForward, tl[0].ID)
			// After the last: nothing forwards, the last message backwards.
			_, err = histTSToEvent(t, alice, roomID, maxTS+1, mautrix.DirectionForward)
			wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			check(maxTS+1, mautrix.DirectionBackward, last.ID)

			base := srv.ClientURL() + "/_matrix/client/v1/rooms/" + url.PathEscape(string(roomID)) + "/timestamp_to_event?"
			for query, code := range map[string]string{"dir=f": "M_MISSING_PARAM", "ts=1": "M_MISSING_PARAM",
				"ts=x&dir=f": "M_INVALID_PARAM", "ts=-5&dir=f": "M_INVALID_PARAM", "ts=1&dir=x": "M_INVALID_PARAM"} {
				r := do(t, http.MethodGet, base+query, alice.AccessToken, nil)
				if r.Status != http.StatusBadRequest || r.errcode() != code {
					t.Fatalf("%s: %d %v, want 400 %s", query, r.Status, r.Body, code)
				}
			}
		})

		t.Run("context", func(t *testing.T) {
			target := sent[1][1]
			k := index[target.ID]
			resp, err := alice.Context(ctx(t), roomID, target.ID, nil, 4)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Event == nil || resp.Event.ID != target.ID {
				t.Fatalf("context event: %+v", resp.Event)
			}
			histWantIDs(t, "events_before", histEventIDs(resp.EventsBefore), []id.EventID{tl[k-1].ID, tl[k-2].ID})
			histWantIDs(t, "events_after", histEventIDs(resp.EventsAfter), []id.EventID{tl[k+1].ID, tl[k+2].ID})
			var sawCreate, sawMember bool
			for _, e := range resp.State {
				sawCreate = sawCreate || e.Type == event.StateCreate
				sawMember = sawMember || (e.Type == event.StateMember && e.GetStateKey() == string(alice.UserID))
			}
			if !sawCreate || !sawMember {
				t.Fatalf("context state lacks the create event or alice's membership: %d events", len(resp.State))
			}

			// The tokens continue with /messages: back from start, forward
			// from end, together the whole room exactly once.
			continued := func(resp *mautrix.RespContext) []id.EventID {
				t.Helper()
				var back, fwd []id.EventID
				for from, pages := resp.Start, 0; from != ""; pages++ {
					page, err := alice.Messages(ctx(t), roomID, from, "", mautrix.DirectionBackward, nil, 3)
					if err != nil || pages > 100 {
						t.Fatalf("paging back: %v", err)
					}
					back = append(back, histEventIDs(page.Chunk)...)
					from = page.End
				}
				for from, pages := resp.End, 0; from != ""; pages++ {
					page, err := alice.Messages(ctx(t), roomID, from, "", mautrix.DirectionForward, nil, 3)
					if err != nil || pages > 100 {
						t.Fatalf("paging forward: %v", err)
					}
					fwd = append(fwd, histEventIDs(page.Chunk)...)
					from = page.End
				}
				all := histReversed(back)
				all = append(all, histReversed(histEventIDs(resp.EventsBefore))...)
				all = append(all, resp.Event.ID)
				all = append(all, histEventIDs(resp.EventsAfter)...)
				return append(all, fwd...)
			}
			histWantIDs(t, "context + /messages from its tokens", continued(resp), histIDs(tl))

			// Default limit 10: five before, five after (fewer at the end).
			def, err := alice.Context(ctx(t), roomID, target.ID, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			histWantIDs(t, "default events_before", histEventIDs(def.EventsBefore), histReversed(histIDs(tl[max(0, k-5):k])))
			histWantIDs(t, "default events_after", histEventIDs(def.EventsAfter), histIDs(tl[k+1:min(len(tl), k+6)]))
			histWantIDs(t, "default context continued", continued(def), histIDs(tl))

			// limit=0: the event alone, tokens still seamless.
			contextURL := srv.ClientURL() + "/_matrix/client/v3/rooms/" + url.PathEscape(string(roomID)) +
				"/context/" + url.PathEscape(string(target.ID))
			r0 := do(t, http.MethodGet, contextURL+"?limit=0", alice.AccessToken, nil)
			if r0.Status != http.StatusOK || len(r0.Body["events_before"].([]any)) != 0 || len(r0.Body["events_after"].([]any)) != 0 {
				t.Fatalf("limit=0: %d %v", r0.Status, r0.Body)
			}
			zero := &mautrix.RespContext{Start: r0.Body["start"].(string), End: r0.Body["end"].(string), Event: &event.Event{ID: target.ID}}
			histWantIDs(t, "limit=0 context continued", continued(zero), histIDs(tl))

			// Odd limit: the extra event goes after (as Synapse does).
			odd, err := alice.Context(ctx(t), roomID, target.ID, nil, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(odd.EventsBefore) != 1 || len(odd.EventsAfter) != 2 {
				t.Fatalf("limit 3: %d before, %d after", len(odd.EventsBefore), len(odd.EventsAfter))
			}

			// Around the first and the last event.
			edge, err := alice.Context(ctx(t), roomID, tl[0].ID, nil, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(edge.EventsBefore) != 0 || len(edge.EventsAfter) != 2 {
				t.Fatalf("around the create event: %d before, %d after", len(edge.EventsBefore), len(edge.EventsAfter))
			}
			histWantIDs(t, "first event's context continued", continued(edge), histIDs(tl))
			edge, err = alice.Context(ctx(t), roomID, last.ID, nil, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(edge.EventsAfter) != 0 || len(edge.EventsBefore) != 2 {
				t.Fatalf("around the last event: %d before, %d after", len(edge.EventsBefore), len(edge.EventsAfter))
			}
			histWantIDs(t, "last event's context continued", continued(edge), histIDs(tl))

			// A filter applies to the neighbours and the state, not the event.
			filtered, err := alice.Context(ctx(t), roomID, target.ID, &mautrix.FilterPart{Types: []event.Type{event.EventMessage}}, 20)
			if err != nil {
				t.Fatal(err)
			}
			var wantBefore []id.EventID
			for _, e := range histReversed(tl[max(0, k-10):k]) {
				if e.Type == "m.room.message" {
					wantBefore = append(wantBefore, e.ID)
				}
			}
			histWantIDs(t, "filtered events_before", histEventIDs(filtered.EventsBefore), wantBefore)
			if filtered.Event.ID != target.ID || len(filtered.State) != 0 {
				t.Fatalf("filtered context: event %s, %d state events", filtered.Event.ID, len(filtered.State))
			}
			bad := do(t, http.MethodGet, contextURL+"?filter=%7B", alice.AccessToken, nil)
			if bad.Status != http.StatusBadRequest || bad.errcode() != "M_BAD_JSON" {
				t.Fatalf("bad filter: %d %v", bad.Status, bad.Body)
			}

			// Unknown events, and events of another room, are not found.
			_, err = alice.Context(ctx(t), roomID, "$nosuchevent", nil, 4)
			wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			other, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "private_chat"})
			if err != nil {
				t.Fatal(err)
			}
			otherMsg, err := alice.SendText(ctx(t), other.RoomID, "elsewhere")
			if err != nil {
				t.Fatal(err)
			}
			histTimeline(t, alice, other.RoomID, "elsewhere")
			_, err = alice.Context(ctx(t), roomID, otherMsg.EventID, nil, 4)
			wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
		})

		t.Run("messages_between", func(t *testing.T) {
			group := func(g int) []id.EventID {
				var out []id.EventID
				for _, e := range sent[g] {
					out = append(out, e.ID)
				}
				return out
			}
			var messages []id.EventID
			for g := range groups {
				messages = append(messages, group(g)...)
			}
			// One group's exact span, and the span between its neighbours'
			// edges: that group's messages, no more, no less.
			for g := range groups {
				got, next := histBetween(t, srv, alice, roomID, sent[g][0].TS, sent[g][perGroup-1].TS, 0, "")
				histWantIDs(t, fmt.Sprintf("group %d", g), got, group(g))
				if next != "" {
					t.Fatalf("group %d: next_batch %q with nothing left", g, next)
				}
				lo, hi := sent[g][0].TS-1, sent[g][perGroup-1].TS+1
				if g > 0 {
					lo = sent[g-1][perGroup-1].TS + 1
				}
				if g < groups-1 {
					hi = sent[g+1][0].TS - 1
				}
				got, _ = histBetween(t, srv, alice, roomID, lo, hi, 0, "")
				histWantIDs(t, fmt.Sprintf("around group %d", g), got, group(g))
				// A limit equal to the count needs no second page.
				got, next = histBetween(t, srv, alice, roomID, lo, hi, perGroup, "")
				if !slices.Equal(got, group(g)) || next != "" {
					t.Fatalf("group %d with limit %d: %v, next_batch %q", g, perGroup, got, next)
				}
			}
			// All messages, by pages of 1, 2 and 4 and in one call.
			for _, limit := range []int{1, 2, 4, 0} {
				got, pages := histBetweenAll(t, srv, alice, roomID, first.TS, last.TS, limit)
				histWantIDs(t, fmt.Sprintf("all messages, limit %d", limit), got, messages)
				if limit > 0 && pages != (len(messages)+limit-1)/limit {
					t.Fatalf("limit %d took %d pages", limit, pages)
				}
			}
			// Two groups across a gap, paged by 2.
			got, _ := histBetweenAll(t, srv, alice, roomID, sent[1][0].TS, sent[2][perGroup-1].TS, 2)
			histWantIDs(t, "groups 1 and 2", got, append(group(1), group(2)...))
			// The whole room; nothing before it or after it.
			got, _ = histBetweenAll(t, srv, alice, roomID, 0, maxTS, 0)
			histWantIDs(t, "whole room", got, histIDs(tl))
			for _, w := range [][2]int64{{0, minTS - 1}, {maxTS + 1, maxTS + 100000}} {
				if got, next := histBetween(t, srv, alice, roomID, w[0], w[1], 0, ""); len(got) != 0 || next != "" {
					t.Fatalf("window %v: %v %q", w, got, next)
				}
			}

			for query, code := range map[string]string{
				"to_ts=5":                       "M_MISSING_PARAM",
				"from_ts=5":                     "M_MISSING_PARAM",
				"from_ts=x&to_ts=5":             "M_INVALID_PARAM",
				"from_ts=1&to_ts=5.5":           "M_INVALID_PARAM",
				"from_ts=6&to_ts=5":             "M_INVALID_PARAM",
				"from_ts=1&to_ts=5&limit=-1":    "M_INVALID_PARAM",
				"from_ts=1&to_ts=5&limit=ten":   "M_INVALID_PARAM",
				"from_ts=1&to_ts=5&from=bogus":  "M_INVALID_PARAM",
				"from_ts=-1&to_ts=5&from=bogus": "M_INVALID_PARAM",
			} {
				r := do(t, http.MethodGet, histBetweenURL(srv, roomID, query), alice.AccessToken, nil)
				if r.Status != http.StatusBadRequest || r.errcode() != code {
					t.Fatalf("%s: %d %v, want 400 %s", query, r.Status, r.Body, code)
				}
			}
			if r := do(t, http.MethodGet, histBetweenURL(srv, roomID, "from_ts=0&to_ts=5"), "", nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("unauthenticated: %d %v", r.Status, r.Body)
			}
		})

		t.Run("non-member", func(t *testing.T) {
			_, err := histTSToEvent(t, eve, roomID, first.TS, mautrix.DirectionForward)
			wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
			_, err = eve.Context(ctx(t), roomID, first.ID, nil, 4)
			wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
			r := do(t, http.MethodGet, histBetweenURL(srv, roomID, fmt.Sprintf("from_ts=0&to_ts=%d", maxTS)), eve.AccessToken, nil)
			if r.Status != http.StatusForbidden || r.errcode() != "M_FORBIDDEN" {
				t.Fatalf("messages_between for a non-member: %d %v", r.Status, r.Body)
			}
		})

		t.Run("visibility", func(t *testing.T) {
			// History visible from joining only; bob joins, then leaves: he
			// sees exactly what /messages shows him, nothing from before his
			// join or after his leave.
			bob := register(t, srv, "bob", "long enough")
			vis, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "public_chat"})
			if err != nil {
				t.Fatal(err)
			}
			joined := map[string]any{"history_visibility": "joined"}
			if _, err := alice.SendStateEvent(ctx(t), vis.RoomID, event.StateHistoryVisibility, "", joined); err != nil {
				t.Fatal(err)
			}
			send := func(body string) id.EventID {
				t.Helper()
				time.Sleep(gap)
				resp, err := alice.SendText(ctx(t), vis.RoomID, body)
				if err != nil {
					t.Fatal(err)
				}
				return resp.EventID
			}
			before := send("before")
			time.Sleep(gap)
			if _, err := bob.JoinRoomByID(ctx(t), vis.RoomID); err != nil {
				t.Fatal(err)
			}
			during := send("during")
			time.Sleep(gap)
			if _, err := bob.LeaveRoom(ctx(t), vis.RoomID); err != nil {
				t.Fatal(err)
			}
			after := send("after")
			all := histTimeline(t, alice, vis.RoomID, "after")
			allIdx := map[id.EventID]int{}
			for i, e := range all {
				allIdx[e.ID] = i
			}
			seen := histTimeline(t, bob, vis.RoomID, "during")
			outside := func(e histEvent) bool { return e.ID == before || e.ID == after }
			if len(seen) == 0 || seen[0].Type != "m.room.member" || slices.ContainsFunc(seen, outside) {
				t.Fatalf("bob's /messages: %+v", seen)
			}
			got, _ := histBetweenAll(t, srv, bob, vis.RoomID, 0, all[len(all)-1].TS+1000, 2)
			histWantIDs(t, "bob's messages_between", got, histIDs(seen))

			ts := func(e id.EventID) int64 { return all[allIdx[e]].TS }
			_, err = histTSToEvent(t, bob, vis.RoomID, ts(before), mautrix.DirectionBackward)
			wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			if r, err := histTSToEvent(t, bob, vis.RoomID, ts(before), mautrix.DirectionForward); err != nil || r.EventID != seen[0].ID {
				t.Fatalf("bob forwards from before his join: %+v %v, want his join %s", r, err, seen[0].ID)
			}
			_, err = histTSToEvent(t, bob, vis.RoomID, ts(after), mautrix.DirectionForward)
			wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			r, err := histTSToEvent(t, bob, vis.RoomID, ts(after), mautrix.DirectionBackward)
			if err != nil || r.EventID != seen[len(seen)-1].ID {
				t.Fatalf("bob backwards from after his leave: %+v %v, want his leave %s", r, err, seen[len(seen)-1].ID)
			}

			for _, e := range []id.EventID{before, after} {
				_, err = bob.Context(ctx(t), vis.RoomID, e, nil, 10)
				wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			}
			c, err := bob.Context(ctx(t), vis.RoomID, during, nil, 100)
			if err != nil {
				t.Fatal(err)
			}
			around := append(histReversed(histEventIDs(c.EventsBefore)), during)
			around = append(around, histEventIDs(c.EventsAfter)...)
			histWantIDs(t, "bob's context", around, histIDs(seen))
			// Alice, still joined, sees all of it.
			got, _ = histBetweenAll(t, srv, alice, vis.RoomID, 0, all[len(all)-1].TS+1000, 0)
			histWantIDs(t, "alice's messages_between", got, histIDs(all))
		})
	})
}
