package e2e

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// searchResult is the part of a /search answer the tests read.
type searchResult struct {
	Count      int      `json:"count"`
	Highlights []string `json:"highlights"`
	NextBatch  string   `json:"next_batch"`
	Results    []struct {
		Rank   float64 `json:"rank"`
		Result struct {
			EventID id.EventID `json:"event_id"`
			RoomID  id.RoomID  `json:"room_id"`
			Sender  id.UserID  `json:"sender"`
			Content struct {
				Body string `json:"body"`
			} `json:"content"`
		} `json:"result"`
		Context struct {
			Before []struct {
				Content struct {
					Body string `json:"body"`
				} `json:"content"`
			} `json:"events_before"`
			After []struct {
				Content struct {
					Body string `json:"body"`
				} `json:"content"`
			} `json:"events_after"`
			Profiles map[id.UserID]struct {
				DisplayName string `json:"displayname"`
			} `json:"profile_info"`
		} `json:"context"`
	} `json:"results"`
	Groups map[string]map[string]struct {
		Results []id.EventID `json:"results"`
	} `json:"groups"`
}

// searchFor runs /search for c with the room_events criteria crit, from
// next_batch when given.
func searchFor(t *testing.T, c *mautrix.Client, crit map[string]any, nextBatch string) searchResult {
	t.Helper()
	url := c.BuildClientURL("v3", "search")
	if nextBatch != "" {
		url = c.BuildURLWithQuery(mautrix.ClientURLPath{"v3", "search"}, map[string]string{"next_batch": nextBatch})
	}
	var resp struct {
		Categories struct {
			RoomEvents searchResult `json:"room_events"`
		} `json:"search_categories"`
	}
	body := map[string]any{"search_categories": map[string]any{"room_events": crit}}
	if _, err := c.MakeRequest(ctx(t), http.MethodPost, url, body, &resp); err != nil {
		t.Fatalf("search %v: %v", crit, err)
	}
	return resp.Categories.RoomEvents
}

// bodies are the bodies of a result page, in order.
func (r searchResult) bodies() []string {
	out := make([]string, len(r.Results))
	for i, res := range r.Results {
		out[i] = res.Result.Content.Body
	}
	return out
}

// waitSearchFound polls until term finds want in the rooms (the indexer runs
// beside sending) or a second has passed.
func waitSearchFound(t *testing.T, c *mautrix.Client, term string, want int) searchResult {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		r := searchFor(t, c, map[string]any{"search_term": term}, "")
		if r.Count >= want || time.Now().After(deadline) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sendAll(t *testing.T, c *mautrix.Client, room id.RoomID, bodies ...string) []id.EventID {
	t.Helper()
	ids := make([]id.EventID, len(bodies))
	for i, b := range bodies {
		resp, err := c.SendText(ctx(t), room, b)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = resp.EventID
	}
	return ids
}

func TestSearchLanguages(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "password-alice")
		bob := register(t, srv, "bob", "password-bob")
		room := publicRoom(t, alice, bob)
		sendAll(t, alice, room, "Shall we have lunch tomorrow?", "我们明天见", "明日の会議は10時からです", "天气很好")
		sendAll(t, bob, room, "lunch sounds great, lunch is the best")

		// Sent last: once found, everything before it is indexed too.
		if r := waitSearchFound(t, alice, "lunch", 2); r.Count != 2 {
			t.Fatalf("lunch found %q within a second of sending", r.bodies())
		}
		if r := searchFor(t, alice, map[string]any{"search_term": "明天"}, ""); !slices.Equal(r.bodies(), []string{"我们明天见"}) {
			t.Errorf("明天 found %q", r.bodies())
		}
		if r := searchFor(t, alice, map[string]any{"search_term": "天气"}, ""); !slices.Equal(r.bodies(), []string{"天气很好"}) {
			t.Errorf("天气 found %q: it must not find 明天见", r.bodies())
		}
		if r := searchFor(t, alice, map[string]any{"search_term": "会議"}, ""); !slices.Equal(r.bodies(), []string{"明日の会議は10時からです"}) {
			t.Errorf("会議 found %q", r.bodies())
		}
		r := searchFor(t, bob, map[string]any{"search_term": "LUNCH", "order_by": "rank"}, "")
		if r.Count != 2 || r.bodies()[0] != "lunch sounds great, lunch is the best" || !slices.Contains(r.Highlights, "lunch") {
			t.Errorf("by rank: %q count %d highlights %q", r.bodies(), r.Count, r.Highlights)
		}
		r = searchFor(t, bob, map[string]any{"search_term": "lunch", "order_by": "recent"}, "")
		if r.Count != 2 || r.bodies()[0] != "lunch sounds great, lunch is the best" || r.bodies()[1] != "Shall we have lunch tomorrow?" {
			t.Errorf("by recency: %q", r.bodies())
		}
		onlyAlice := map[string]any{"senders": []string{string(alice.UserID)}}
		r = searchFor(t, bob, map[string]any{"search_term": "lunch", "filter": onlyAlice}, "")
		if !slices.Equal(r.bodies(), []string{"Shall we have lunch tomorrow?"}) {
			t.Errorf("alice's lunch: %q", r.bodies())
		}
	})
}

func TestSearchFiltersAndContext(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	alice := register(t, srv, "alice", "password-alice")
	rooms := []id.RoomID{publicRoom(t, alice), publicRoom(t, alice)}
	sendAll(t, alice, rooms[0], "report one", "report two", "unrelated", "report three")
	cut := time.Now().UnixMilli()
	time.Sleep(5 * time.Millisecond)
	sendAll(t, alice, rooms[1], "report four")
	waitSearchFound(t, alice, "report", 4)

	r := searchFor(t, alice, map[string]any{"search_term": "report", "filter": map[string]any{"rooms": []id.RoomID{rooms[1]}}}, "")
	if !slices.Equal(r.bodies(), []string{"report four"}) {
		t.Errorf("room filter: %q", r.bodies())
	}
	r = searchFor(t, alice, map[string]any{"search_term": "report", "filter": map[string]any{"im.myelin.to_ts": cut}}, "")
	if r.Count != 3 || slices.Contains(r.bodies(), "report four") {
		t.Errorf("before %d: %q", cut, r.bodies())
	}
	r = searchFor(t, alice, map[string]any{"search_term": "report", "filter": map[string]any{"im.myelin.from_ts": cut}}, "")
	if !slices.Equal(r.bodies(), []string{"report four"}) {
		t.Errorf("after %d: %q", cut, r.bodies())
	}
	r = searchFor(t, alice, map[string]any{
		"search_term": "three", "event_context": map[string]any{"before_limit": 2, "after_limit": 1, "include_profile": true},
		"groupings": map[string]any{"group_by": []map[string]string{{"key": "room_id"}}},
	}, "")
	if len(r.Results) != 1 {
		t.Fatalf("three: %+v", r)
	}
	c := r.Results[0].Context
	if len(c.Before) != 2 || c.Before[0].Content.Body != "unrelated" || c.Before[1].Content.Body != "report two" || len(c.After) != 0 {
		t.Errorf("context: %+v", c)
	}
	if c.Profiles[alice.UserID].DisplayName != "alice" {
		t.Errorf("profile_info: %+v", c.Profiles)
	}
	if g := r.Groups["room_id"][string(rooms[0])]; len(g.Results) != 1 || g.Results[0] != r.Results[0].Result.EventID {
		t.Errorf("groups: %+v", r.Groups)
	}
}

func TestSearchPagination(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	alice := register(t, srv, "alice", "password-alice")
	room := publicRoom(t, alice)
	var bodies []string
	for i := 0; i < 23; i++ {
		bodies = append(bodies, "page item "+string(rune('a'+i)))
	}
	sendAll(t, alice, room, bodies...)
	// No waiting: a search sees every event the stream held when it began.
	if r := searchFor(t, alice, map[string]any{"search_term": "item"}, ""); r.Count != 23 {
		t.Fatalf("right after sending, %d of 23 found", r.Count)
	}
	for _, order := range []string{"recent", "rank"} {
		seen := map[id.EventID]bool{}
		next, pages := "", 0
		for {
			r := searchFor(t, alice, map[string]any{"search_term": "item", "order_by": order, "filter": map[string]any{"limit": 10}}, next)
			pages++
			for _, res := range r.Results {
				if seen[res.Result.EventID] {
					t.Fatalf("%s: %s repeated on page %d", order, res.Result.EventID, pages)
				}
				seen[res.Result.EventID] = true
			}
			if r.Count != 23 {
				t.Errorf("%s: count %d on page %d", order, r.Count, pages)
			}
			if next = r.NextBatch; next == "" {
				break
			}
			if pages > 5 {
				t.Fatalf("%s: no end after %d pages", order, pages)
			}
		}
		if len(seen) != 23 || pages != 3 {
			t.Errorf("%s: %d results in %d pages, want 23 in 3", order, len(seen), pages)
		}
	}
}

func TestSearchVisibility(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "password-alice")
		bob := register(t, srv, "bob", "password-bob")
		loner := register(t, srv, "loner", "password-loner")
		room := publicRoom(t, alice, bob)
		ids := sendAll(t, alice, room, "secret plan one", "secret plan two")
		waitSearchFound(t, bob, "secret", 2)
		if _, err := bob.LeaveRoom(ctx(t), room); err != nil {
			t.Fatal(err)
		}
		sendAll(t, alice, room, "secret plan three, after bob left")
		if r := waitSearchFound(t, alice, "secret", 3); r.Count != 3 {
			t.Fatalf("alice finds %q", r.bodies())
		}
		r := searchFor(t, bob, map[string]any{"search_term": "secret"}, "")
		if r.Count != 2 || slices.Contains(r.bodies(), "secret plan three, after bob left") {
			t.Errorf("bob, who left, finds %q (count %d)", r.bodies(), r.Count)
		}
		if r := searchFor(t, loner, map[string]any{"search_term": "secret"}, ""); r.Count != 0 || len(r.Results) != 0 {
			t.Errorf("a user in no room finds %q", r.bodies())
		}
		if _, err := alice.RedactEvent(ctx(t), room, ids[0]); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		for {
			r := searchFor(t, alice, map[string]any{"search_term": "secret"}, "")
			if !slices.Contains(r.bodies(), "secret plan one") && r.Count == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a redacted message is still found: %q (count %d)", r.bodies(), r.Count)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
