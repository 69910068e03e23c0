package routing_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi"
	"github.com/myelin-im/myelin/syncapi/search/sqlsearch"
	"github.com/myelin-im/myelin/test/fixture"
)

const searchPath = "/_matrix/client/v3/search"

// newSearchEnv is env with the SQL search backend, every message indexed.
func newSearchEnv(t *testing.T, db *sqlutil.DB) *env {
	t.Helper()
	b, err := sqlsearch.New(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, db, syncapi.WithSearch(b, "sql", nil))
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(searchBodies(t, e, e.alice, "elsewhere"), "elsewhere") {
		if time.Now().After(deadline) {
			t.Fatal("the indexer did not index the env's messages within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e
}

func roomEvents(crit map[string]any) map[string]any {
	return map[string]any{"search_categories": map[string]any{"room_events": crit}}
}

// searchBodies are the bodies u finds for term, in order.
func searchBodies(t *testing.T, e *env, u *fixture.User, term string) []string {
	t.Helper()
	res := e.Do(t, http.MethodPost, searchPath, u.Token, roomEvents(map[string]any{"search_term": term, "order_by": "recent"}))
	res.Want(t, http.StatusOK, "")
	var body struct {
		Categories struct {
			RoomEvents struct {
				Results []struct {
					Result struct {
						Content struct {
							Body string `json:"body"`
						} `json:"content"`
					} `json:"result"`
				} `json:"results"`
			} `json:"room_events"`
		} `json:"search_categories"`
	}
	res.Decode(t, &body)
	var out []string
	for _, r := range body.Categories.RoomEvents.Results {
		out = append(out, r.Result.Content.Body)
	}
	return out
}

// TestSearchBadInput: every malformed search is the spec's error.
func TestSearchBadInput(t *testing.T) {
	e := newSearchEnv(t, sqltest.Open(t, sqlutil.SQLite))
	tok := e.alice.Token
	crit := func(kv ...any) map[string]any {
		c := map[string]any{"search_term": "one"}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return roomEvents(c)
	}
	run(t, e.Fixture, http.MethodPost, []reqCase{
		{"without token", "", searchPath, crit(), 401, "M_MISSING_TOKEN", nil},
		{"not JSON", tok, searchPath, `{`, 400, "M_NOT_JSON", nil},
		{"no categories", tok, searchPath, `{}`, 400, "M_MISSING_PARAM", nil},
		{"no room_events", tok, searchPath, `{"search_categories":{}}`, 200, "", nil},
		{"no search_term", tok, searchPath, roomEvents(map[string]any{"keys": []string{"content.body"}}), 400, "M_MISSING_PARAM", nil},
		{"search_term not a string", tok, searchPath, crit("search_term", 7), 400, "M_BAD_JSON", nil},
		{"unknown key", tok, searchPath, crit("keys", []string{"content.url"}), 400, "M_INVALID_PARAM", nil},
		{"unknown order", tok, searchPath, crit("order_by", "random"), 400, "M_INVALID_PARAM", nil},
		{"unknown group", tok, searchPath, crit("groupings", map[string]any{"group_by": []map[string]string{{"key": "type"}}}),
			400, "M_INVALID_PARAM", nil},
		{"limit zero", tok, searchPath, crit("filter", map[string]any{"limit": 0}), 400, "M_INVALID_PARAM", nil},
		{"negative context", tok, searchPath, crit("event_context", map[string]any{"before_limit": -1}), 400, "M_INVALID_PARAM", nil},
		{"bad next_batch", tok, searchPath + "?next_batch=nope", crit(), 400, "M_INVALID_PARAM", nil},
		{"forged next_batch", tok, searchPath + "?next_batch=eyJiIjoieCJ9", crit(), 400, "M_INVALID_PARAM", nil},
		{"punctuation only", tok, searchPath, crit("search_term", "!!!"), 200, "", nil},
	})
}

// TestSearchVisibility: each user finds what they may see of the env's
// room: dave only what came before he left, erin (who forgot it) and carol
// (never in it) nothing.
func TestSearchVisibility(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newSearchEnv(t, db)
		for _, tc := range []struct {
			who  *fixture.User
			term string
			want []string
		}{
			{e.alice, "after", []string{"after dave left"}},
			{e.alice, "elsewhere", []string{"elsewhere"}},
			{e.bob, "one", []string{"one"}},
			{e.dave, "one", []string{"one"}},
			{e.dave, "after", nil},
			{e.erin, "one", nil},
			{e.carol, "one", nil},
			{e.bob, "elsewhere", nil},
		} {
			if got := searchBodies(t, e, tc.who, tc.term); !slices.Equal(got, tc.want) {
				t.Errorf("%s searching %q found %q, want %q", tc.who.ID, tc.term, got, tc.want)
			}
		}
	})
}
