package elastic

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/syncapi/search"
)

// TestRealCluster runs the behaviour checks against a real cluster when
// MYELIN_TEST_ELASTICSEARCH_URL names one (opt-in: none is installed on the
// project's machines). It uses a fresh index and deletes it afterwards.
func TestRealCluster(t *testing.T) {
	url := os.Getenv("MYELIN_TEST_ELASTICSEARCH_URL")
	if url == "" {
		t.Skip("MYELIN_TEST_ELASTICSEARCH_URL not set")
	}
	ctx := context.Background()
	log, _ := test.NewNullLogger()
	index := fmt.Sprintf("myelin-test-%d", time.Now().UnixNano())
	b, err := New(ctx, config.Elasticsearch{Addresses: []string{url}, Index: index, Refresh: "wait_for"}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if res, err := b.es.Indices.Delete([]string{index}); err == nil {
			closeBody(res.Body)
		}
	})
	if err := b.Index(ctx, corpus); err != nil {
		t.Fatal(err)
	}
	for _, term := range []string{"hello", "world", "明天", "天气", "東京", "会いましょう", "天", "hello 東京", "明天 天气"} {
		var want []string
		for _, d := range corpus {
			if search.Match(search.ParseQuery(term), search.Analyze(d.Text)) {
				want = append(want, d.EventID)
			}
		}
		got := ids(mustSearch(t, b, search.Query{Term: term}))
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, nonNil(want)) {
			t.Errorf("%q: got %v, want %v", term, got, want)
		}
	}
	if err := b.Delete(ctx, []string{"$mix"}); err != nil {
		t.Fatal(err)
	}
	q := search.Query{Term: "天", Order: search.ByRank, Limit: 1}
	seen := map[string]bool{}
	for range 5 {
		r := mustSearch(t, b, q)
		for _, h := range r.Hits {
			if seen[h.EventID] || h.EventID == "$mix" {
				t.Fatalf("hit %s again or deleted", h.EventID)
			}
			seen[h.EventID] = true
		}
		if r.Next == "" {
			break
		}
		q.After = r.Next
	}
	if len(seen) != 2 {
		t.Errorf("paged through %v", seen)
	}
}
