package elastic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/syncapi/search"
)

const testIndex = "myelin-events"

func newBackend(t *testing.T, f *fakeES, refresh string) (*Backend, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	log, _ := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	b, err := New(context.Background(), config.Elasticsearch{
		Addresses: []string{f.srv.URL}, Index: testIndex, Refresh: refresh,
	}, log, reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b.retry = retryPolicy{Attempts: 4, First: time.Millisecond, Max: 5 * time.Millisecond}
	return b, reg
}

var everywhere = []search.RoomRange{{RoomID: "!a:x", From: 0, To: 1000}, {RoomID: "!b:x", From: 0, To: 1000}}

func doc(id, room, sender string, pos int64, text string) search.Doc {
	return search.Doc{EventID: id, RoomID: room, Sender: sender, Type: "m.room.message", Key: search.KeyBody,
		Text: text, TS: 1_000_000 + pos*1000, Pos: pos}
}

func ids(r *search.Result) []string {
	out := []string{}
	for _, h := range r.Hits {
		out = append(out, h.EventID)
	}
	return out
}

func mustSearch(t *testing.T, b *Backend, q search.Query) *search.Result {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Rooms == nil {
		q.Rooms = everywhere
	}
	r, err := b.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%q): %v", q.Term, err)
	}
	return r
}

func TestIndexCreatedOnceWithMapping(t *testing.T) {
	f := newFakeES(t)
	newBackend(t, f, "false")
	if f.creates != 1 {
		t.Fatalf("index created %d times", f.creates)
	}
	if f.props[fWords]["analyzer"] != tokensAnalyzer || f.props[fPos]["type"] != "long" || f.props[fChars]["type"] != "keyword" {
		t.Fatalf("mapping: %v", f.props)
	}
	newBackend(t, f, "false")
	if f.creates != 1 {
		t.Fatalf("second start created the index again (%d)", f.creates)
	}
	// A concurrent creator: HEAD said missing, PUT says it exists.
	f.hideIndex = true
	newBackend(t, f, "false")
}

func TestRefusesAClusterThatIsNotElasticsearch(t *testing.T) {
	f := newFakeES(t)
	f.noProduct = true
	log, _ := test.NewNullLogger()
	_, err := New(context.Background(), config.Elasticsearch{Addresses: []string{f.srv.URL}, Index: testIndex}, log, nil)
	if err == nil {
		t.Fatal("a server without X-Elastic-Product was accepted")
	}
}

var corpus = []search.Doc{
	doc("$en1", "!a:x", "@al:x", 1, "Hello World, the weather is nice"),
	doc("$en2", "!a:x", "@bo:x", 2, "world peace"),
	doc("$zh1", "!a:x", "@al:x", 3, "我们明天见"),
	doc("$zh2", "!b:x", "@bo:x", 4, "今天天气很好"),
	doc("$ja1", "!b:x", "@al:x", 5, "東京で会いましょう"),
	doc("$ja2", "!b:x", "@bo:x", 6, "カタカナのテストです"),
	doc("$mix", "!b:x", "@al:x", 7, "明天 hello 東京"),
}

// Every query finds exactly what search.Match accepts (the tokenisation's
// precision), in English, Chinese and Japanese.
func TestFindsWhatMatchAccepts(t *testing.T) {
	f := newFakeES(t)
	b, reg := newBackend(t, f, "false")
	if err := b.Index(context.Background(), corpus); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"hello":    {"$en1", "$mix"},
		"WORLD":    {"$en1", "$en2"},
		"明天":       {"$zh1", "$mix"},
		"天气":       {"$zh2"}, // not 我们明天见
		"东京":       {},
		"東京":       {"$ja1", "$mix"},
		"会いましょう":   {"$ja1"},
		"テスト":      {"$ja2"},
		"天":        {"$zh1", "$zh2", "$mix"},
		"明天 天气":    {},
		"hello 東京": {"$mix"},
		"!!":       {},
	}
	for term, want := range cases {
		t.Run(term, func(t *testing.T) {
			got := ids(mustSearch(t, b, search.Query{Term: term}))
			sort.Strings(got)
			var match []string
			for _, d := range corpus {
				if search.Match(search.ParseQuery(term), search.Analyze(d.Text)) {
					match = append(match, d.EventID)
				}
			}
			sort.Strings(match)
			want = slices.Sorted(slices.Values(want))
			if !slices.Equal(got, want) || !slices.Equal(got, nonNil(match)) {
				t.Errorf("got %v, want %v (Match: %v)", got, want, match)
			}
		})
	}
	if v := testutil.ToFloat64(b.m.requests.WithLabelValues("search", "ok")); v < float64(len(cases)-1) {
		t.Errorf("search requests counted %v", v)
	}
	// Registered on the Registerer given: info, create_index, index, search.
	if n, err := testutil.GatherAndCount(reg, "myelin_search_elasticsearch_requests_total"); err != nil || n != 4 {
		t.Errorf("request series: %d %v", n, err)
	}
}

func TestFilters(t *testing.T) {
	f := newFakeES(t)
	b, _ := newBackend(t, f, "false")
	if err := b.Index(context.Background(), corpus); err != nil {
		t.Fatal(err)
	}
	name := search.Doc{EventID: "$name", RoomID: "!a:x", Sender: "@al:x", Type: "m.room.name", Key: search.KeyName,
		Text: "hello room", TS: 1_008_000, Pos: 8}
	if err := b.Index(context.Background(), []search.Doc{name}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    search.Query
		want []string
	}{
		{"room a only", search.Query{Term: "hello", Rooms: everywhere[:1]}, []string{"$name", "$en1"}},
		{"range excludes", search.Query{Term: "hello", Rooms: []search.RoomRange{
			{RoomID: "!a:x", From: 1, To: 7}, {RoomID: "!b:x", From: 0, To: 6}}}, []string{}},
		{"range includes To", search.Query{Term: "hello", Rooms: []search.RoomRange{
			{RoomID: "!a:x", From: 0, To: 1}, {RoomID: "!b:x", From: 6, To: 7}}}, []string{"$mix", "$en1"}},
		{"senders", search.Query{Term: "天", Senders: []string{"@al:x"}}, []string{"$mix", "$zh1"}},
		{"not senders", search.Query{Term: "天", NotSenders: []string{"@al:x"}}, []string{"$zh2"}},
		{"types", search.Query{Term: "hello", Types: []string{"m.room.name"}}, []string{"$name"}},
		{"not types", search.Query{Term: "hello", NotTypes: []string{"m.room.name"}}, []string{"$mix", "$en1"}},
		{"keys", search.Query{Term: "hello", Keys: []string{search.KeyBody}}, []string{"$mix", "$en1"}},
		{"time", search.Query{Term: "天", FromTS: 1_004_000, ToTS: 1_006_000}, []string{"$zh2"}},
		{"from time", search.Query{Term: "天", FromTS: 1_004_000}, []string{"$mix", "$zh2"}},
		{"no rooms", search.Query{Term: "hello", Rooms: []search.RoomRange{}}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.q.Order = search.ByRecent
			if got := ids(mustSearch(t, b, c.q)); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// Past maxRangeClauses distinct ranges the query filters by room and the
// ranges are checked on the hits: the same results.
func TestManyRoomRanges(t *testing.T) {
	f := newFakeES(t)
	b, _ := newBackend(t, f, "false")
	var docs []search.Doc
	var rooms []search.RoomRange
	for i := range 300 {
		room := fmt.Sprintf("!r%d:x", i)
		for j := range 3 {
			pos := int64(i*10 + j + 1)
			docs = append(docs, doc(fmt.Sprintf("$e%d_%d", i, j), room, "@al:x", pos, "needle"))
		}
		// Each room shows its second event only.
		rooms = append(rooms, search.RoomRange{RoomID: room, From: int64(i*10 + 1), To: int64(i*10 + 2)})
	}
	if err := b.Index(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	var got []string
	q := search.Query{Term: "needle", Rooms: rooms, Order: search.ByRecent, Limit: 100}
	for page := 0; ; page++ {
		r := mustSearch(t, b, q)
		got = append(got, ids(r)...)
		if r.Next == "" || page > 10 {
			break
		}
		q.After = r.Next
	}
	if len(got) != 300 {
		t.Fatalf("found %d events, want 300", len(got))
	}
	for i, id := range got {
		if want := fmt.Sprintf("$e%d_1", 299-i); id != want {
			t.Fatalf("hit %d: %s, want %s", i, id, want)
		}
	}
}

func TestPaginationWithoutRepeats(t *testing.T) {
	f := newFakeES(t)
	b, _ := newBackend(t, f, "false")
	var docs []search.Doc
	for i := range 25 {
		text := "report"
		for range i % 4 {
			text += " report"
		}
		docs = append(docs, doc(fmt.Sprintf("$p%02d", i), "!a:x", "@al:x", int64(i+1), text+" of the week"))
	}
	if err := b.Index(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	for _, order := range []search.Order{search.ByRecent, search.ByRank} {
		q := search.Query{Term: "report", Order: order, Limit: 10}
		seen := map[string]bool{}
		var ranks []float64
		pages := 0
		for {
			r := mustSearch(t, b, q)
			pages++
			if pages == 1 && r.Count != 25 {
				t.Errorf("order %d: count %d", order, r.Count)
			}
			for _, h := range r.Hits {
				if seen[h.EventID] {
					t.Fatalf("order %d: %s repeated", order, h.EventID)
				}
				seen[h.EventID] = true
				ranks = append(ranks, h.Rank)
			}
			if r.Next == "" {
				break
			}
			// An event that arrives meanwhile does not disturb the pages.
			if pages == 1 {
				late := doc("$late", "!a:x", "@al:x", 100, "report")
				if err := b.Index(context.Background(), []search.Doc{late}); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = b.Delete(context.Background(), []string{"$late"}) }()
			}
			q.After = r.Next
		}
		if len(seen) != 25 || pages != 3 {
			t.Errorf("order %d: %d hits in %d pages", order, len(seen), pages)
		}
		if order == search.ByRank && !slices.IsSortedFunc(ranks, func(a, b float64) int { return -cmpFloat(a, b) }) {
			t.Errorf("ranks not descending: %v", ranks)
		}
		if err := b.Delete(context.Background(), []string{"$late"}); err != nil {
			t.Fatal(err)
		}
	}
	// The densest text ranks first.
	r := mustSearch(t, b, search.Query{Term: "report", Order: search.ByRank, Limit: 1})
	if r.Hits[0].EventID != "$p23" {
		t.Errorf("best hit %s, want $p23 (four reports, the most recent)", r.Hits[0].EventID)
	}
	recent := mustSearch(t, b, search.Query{Term: "report", Order: search.ByRecent, Limit: 2})
	for _, bad := range []string{"garbage", "eyJvIjowLCJhIjpbXX0", r.Next, recent.Next + "x"} {
		_, err := b.Search(context.Background(), search.Query{Term: "report", Rooms: everywhere, Limit: 2,
			Order: search.ByRecent, After: bad})
		if !errors.Is(err, search.ErrBadCursor) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestDeleteAndReindex(t *testing.T) {
	f := newFakeES(t)
	b, _ := newBackend(t, f, "wait_for")
	ctx := context.Background()
	if err := b.Index(ctx, corpus); err != nil {
		t.Fatal(err)
	}
	if err := b.Index(ctx, corpus[:2]); err != nil { // at-least-once delivery
		t.Fatal(err)
	}
	if len(f.docs) != len(corpus) {
		t.Fatalf("%d documents after indexing twice", len(f.docs))
	}
	if err := b.Delete(ctx, []string{"$en1", "$never"}); err != nil {
		t.Fatal(err)
	}
	if got := ids(mustSearch(t, b, search.Query{Term: "hello", Order: search.ByRecent})); !slices.Equal(got, []string{"$mix"}) {
		t.Fatalf("after delete: %v", got)
	}
	if err := b.Delete(ctx, []string{"$en1"}); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	for _, r := range f.refreshes {
		if r != "wait_for" {
			t.Fatalf("refresh %q", r)
		}
	}
}

func TestBulkRetries(t *testing.T) {
	f := newFakeES(t)
	b, reg := newBackend(t, f, "false")
	ctx := context.Background()
	f.bulkLoad = 2
	f.itemLoad[docID("$zh1", search.KeyBody)] = 1
	before := len(f.bulkBodies)
	if err := b.Index(ctx, corpus); err != nil {
		t.Fatal(err)
	}
	sent := f.bulkBodies[before:]
	if len(sent) != 4 || len(sent[2]) != len(corpus) || len(sent[3]) != 1 || sent[3][0].id != "$zh1|content.body" {
		t.Fatalf("bulk requests: %d, last %v", len(sent), sent[len(sent)-1])
	}
	if len(f.docs) != len(corpus) {
		t.Fatalf("%d documents", len(f.docs))
	}
	// Two whole requests refused, then one item: three retries.
	want := `# HELP myelin_search_elasticsearch_bulk_retries_total Bulk requests sent again ` +
		`(for the items the cluster refused for load or failed on).
# TYPE myelin_search_elasticsearch_bulk_retries_total counter
myelin_search_elasticsearch_bulk_retries_total 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "myelin_search_elasticsearch_bulk_retries_total"); err != nil {
		t.Error(err)
	}
	// A document the cluster cannot take fails at once, not retried.
	f.itemBad[docID("$bad", search.KeyBody)] = true
	before = len(f.bulkBodies)
	err := b.Index(ctx, []search.Doc{doc("$bad", "!a:x", "@al:x", 9, "x")})
	if err == nil || len(f.bulkBodies) != before+1 {
		t.Fatalf("bad document: %v after %d requests", err, len(f.bulkBodies)-before)
	}
	// Load that does not pass gives up after the attempts.
	f.bulkLoad = 100
	if err := b.Index(ctx, corpus[:1]); err == nil {
		t.Fatal("indexing succeeded under permanent load")
	}
	if v := testutil.ToFloat64(b.m.requests.WithLabelValues("index", "error")); v != 2 {
		t.Errorf("index errors counted %v", v)
	}
}

// The fake refuses what the cluster would, so that the tests above mean
// the backend's requests are acceptable.
func TestFakeRefusesWhatTheClusterWould(t *testing.T) {
	f := newFakeES(t)
	b, _ := newBackend(t, f, "false")
	ctx := context.Background()
	matchAll := map[string]any{"bool": map[string]any{"filter": []any{}}}
	bodies := map[string]map[string]any{
		"sort on text":  {"query": matchAll, "sort": []any{map[string]any{fWords: "asc"}}},
		"unknown query": {"query": map[string]any{"fuzzy_magic": map[string]any{}}, "sort": sortOf(search.ByRecent)},
		"term on text":  {"query": term(fWords, "x"), "sort": sortOf(search.ByRecent)},
		"phrase on unindexed": {
			"query": map[string]any{"match_phrase": map[string]any{fText: map[string]any{"query": "x"}}},
			"sort":  sortOf(search.ByRecent),
		},
		"unknown key": {"query": matchAll, "sort": sortOf(search.ByRecent), "from_the_future": 1},
		"short after": {"query": matchAll, "sort": sortOf(search.ByRecent), "search_after": []any{1}},
	}
	for name, body := range bodies {
		if _, err := b.searchOnce(ctx, body); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ops := []bulkOp{{action: "index", id: "$x|k", source: []byte(`{"event_id":"$x","surprise":1}`)}}
	if err := b.bulk(ctx, ops); err == nil {
		t.Error("a field outside the strict mapping was accepted")
	}
}

func TestSearchRetriesWhenTheClusterIsBusy(t *testing.T) {
	f := newFakeES(t)
	b, _ := newBackend(t, f, "false")
	if err := b.Index(context.Background(), corpus); err != nil {
		t.Fatal(err)
	}
	f.searchLoad = 2
	if got := ids(mustSearch(t, b, search.Query{Term: "world", Order: search.ByRecent})); !slices.Equal(got, []string{"$en2", "$en1"}) {
		t.Fatalf("after two refusals: %v", got)
	}
	f.searchLoad = 3
	if _, err := b.Search(context.Background(), search.Query{Term: "world", Rooms: everywhere, Limit: 5}); err == nil {
		t.Fatal("a search refused three times succeeded")
	}
	if v := testutil.ToFloat64(b.m.requests.WithLabelValues("search", "error")); v != 1 {
		t.Errorf("search errors counted %v", v)
	}
}
