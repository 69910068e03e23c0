package sqlsearch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi/search"
)

const room1, room2 = "!one:test", "!two:test"

func newBackend(t *testing.T, db *sqlutil.DB) *Backend {
	t.Helper()
	b, err := New(context.Background(), db, logrus.New())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Migrating again is a no-op.
	if _, err := New(context.Background(), db, nil); err != nil {
		t.Fatalf("New again: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// doc is a body document of room1 by alice at position pos.
func doc(pos int64, text string) search.Doc {
	return search.Doc{
		EventID: fmt.Sprintf("$e%03d", pos), RoomID: room1, Sender: "@alice:test", Type: "m.room.message",
		Key: search.KeyBody, Text: text, TS: 1000 * pos, Pos: pos,
	}
}

func index(t *testing.T, b *Backend, docs ...search.Doc) {
	t.Helper()
	if err := b.Index(context.Background(), docs); err != nil {
		t.Fatalf("Index: %v", err)
	}
}

func everything() []search.RoomRange {
	return []search.RoomRange{{RoomID: room1, From: 0, To: 1 << 40}, {RoomID: room2, From: 0, To: 1 << 40}}
}

func run(t *testing.T, b *Backend, q search.Query) *search.Result {
	t.Helper()
	if q.Rooms == nil {
		q.Rooms = everything()
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	res, err := b.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%q, order %d, after %q): %v", q.Term, q.Order, q.After, err)
	}
	return res
}

func ids(res *search.Result) []string {
	var out []string
	for _, h := range res.Hits {
		out = append(out, h.EventID)
	}
	return out
}

func expect(t *testing.T, name string, res *search.Result, want ...string) {
	t.Helper()
	got := ids(res)
	if !slices.Equal(got, want) {
		t.Errorf("%s: hits %q, want %q", name, got, want)
	}
	if len(want) > 0 && res.Count != len(want) {
		t.Errorf("%s: count %d, want %d", name, res.Count, len(want))
	}
}

// TestPrecision runs the tokenizer's precision cases, and more, through the
// real databases: a text is found exactly when search.Match accepts it.
func TestPrecision(t *testing.T) {
	cases := []struct {
		term, text string
		want       bool
	}{
		{"明天", "我们明天见", true},
		{"天气", "明天见", false},
		{"明天见", "我们明天见", true},
		{"们见", "我们明天见", false},
		{"见", "我们明天见", true},
		{"雨", "我们明天见", false},
		{"hello", "Hello, world", true},
		{"HELLO world", "hello there, world", true},
		{"hello moon", "hello world", false},
		{"hel", "hello", false},
		{"会議", "明日の会議は10時から", true},
		{"会社", "明日の会議は10時から", false},
		{"iphone 高い", "iPhone15は高い", false},
		{"iphone15 高い", "iPhone15は高い", true},
		{"!!!", "anything", false},
		{"café", "Un café, s'il vous plaît", true},
		{"cafe", "Un café, s'il vous plaît", false},
		{"vous", "Un café, s'il vous plaît", true},
		{"'il", "s'il", true},
		{"a:b", "a b", true},
		{"back\\slash", "back slash", true},
		{"x&y|z!(w)<v>", "x y z w v", true},
		{"\"quoted\"", "a quoted word", true},
		{"안녕", "안녕하세요", true},
		{"하안", "안녕하세요", false},
		{"カタカナ", "これはカタカナです", true},
		{"ー", "コーヒー", true},
		{"猫", "猫", true},
		{"猫", "黑猫", true},
		{"黑猫", "猫黑", false},
		{"天天", "天天向上", true},
		{"天", "天天向上", true},
		{"ünïcödé", "ÜNÏCÖDÉ text", true},
		{"9", "Meet 明天 at 9", true},
		{"at 明天", "Meet 明天 at 9", true},
	}
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		b := newBackend(t, db)
		for i, c := range cases {
			index(t, b, doc(int64(i+1), c.text))
		}
		for i, c := range cases {
			if m := search.Match(search.ParseQuery(c.term), search.Analyze(c.text)); m != c.want {
				t.Fatalf("case %q in %q: Match says %v, the case %v", c.term, c.text, m, c.want)
			}
			res := run(t, b, search.Query{Term: c.term})
			// Other texts of the table may match too; what counts is this one.
			found := slices.Contains(ids(res), doc(int64(i+1), "").EventID)
			if found != c.want {
				t.Errorf("%q in %q: found %v, want %v", c.term, c.text, found, c.want)
			}
			// And every hit is one that Match accepts.
			for _, h := range res.Hits {
				var pos int
				_, _ = fmt.Sscanf(h.EventID, "$e%d", &pos)
				if !search.Match(search.ParseQuery(c.term), search.Analyze(cases[pos-1].text)) {
					t.Errorf("%q: hit %s (%q) that Match rejects", c.term, h.EventID, cases[pos-1].text)
				}
			}
		}
	})
}

func TestLanguages(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		b := newBackend(t, db)
		index(t, b,
			doc(1, "The quick brown fox jumps over the lazy dog"),
			doc(2, "我们明天见"),
			doc(3, "明天见"),
			doc(4, "明日の会議は10時からです"),
			doc(5, "Lunch 明天 with the team, 会議 after"),
		)
		expect(t, "fox", run(t, b, search.Query{Term: "fox", Order: search.ByRecent}), "$e001")
		expect(t, "brown fox", run(t, b, search.Query{Term: "Brown FOX", Order: search.ByRecent}), "$e001")
		expect(t, "fox brown (both words, any order)", run(t, b, search.Query{Term: "fox brown"}), "$e001")
		expect(t, "明天", run(t, b, search.Query{Term: "明天", Order: search.ByRecent}), "$e005", "$e003", "$e002")
		expect(t, "我们明天", run(t, b, search.Query{Term: "我们明天", Order: search.ByRecent}), "$e002")
		expect(t, "天气", run(t, b, search.Query{Term: "天气"}))
		expect(t, "会議", run(t, b, search.Query{Term: "会議", Order: search.ByRecent}), "$e005", "$e004")
		expect(t, "会議 10時", run(t, b, search.Query{Term: "会議 10時"}), "$e004")
		expect(t, "the 明天", run(t, b, search.Query{Term: "the 明天"}), "$e005")
	})
}

func TestRankingAndRecency(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		b := newBackend(t, db)
		index(t, b,
			doc(1, "deploy deploy deploy the deploy"),
			doc(2, "we should deploy at some point after the long meeting about many other things entirely"),
			doc(3, "nothing to see"),
		)
		res := run(t, b, search.Query{Term: "deploy", Order: search.ByRank})
		expect(t, "by rank", res, "$e001", "$e002")
		if res.Hits[0].Rank <= res.Hits[1].Rank {
			t.Errorf("ranks %v, %v: want the first higher", res.Hits[0].Rank, res.Hits[1].Rank)
		}
		expect(t, "by recent", run(t, b, search.Query{Term: "deploy", Order: search.ByRecent}), "$e002", "$e001")
	})
}

func TestFilters(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		b := newBackend(t, db)
		d2 := doc(2, "release notes")
		d2.Sender = "@bob:test"
		d3 := doc(3, "release party")
		d3.RoomID = room2
		d4 := doc(4, "release")
		d4.Type, d4.Key = "m.room.name", search.KeyName
		d5 := doc(5, "release topic")
		d5.Type, d5.Key = "m.room.topic", search.KeyTopic
		index(t, b, doc(1, "release plan"), d2, d3, d4, d5, doc(6, "release later"))
		q := func(mod func(*search.Query)) search.Query {
			q := search.Query{Term: "release", Order: search.ByRecent}
			mod(&q)
			return q
		}
		expect(t, "all", run(t, b, q(func(*search.Query) {})), "$e006", "$e005", "$e004", "$e003", "$e002", "$e001")
		expect(t, "room range (1, 4] of room1 only", run(t, b, q(func(q *search.Query) {
			q.Rooms = []search.RoomRange{{RoomID: room1, From: 1, To: 4}}
		})), "$e004", "$e002")
		expect(t, "room2 only", run(t, b, q(func(q *search.Query) {
			q.Rooms = []search.RoomRange{{RoomID: room2, From: 0, To: 100}}
		})), "$e003")
		expect(t, "an unknown room", run(t, b, q(func(q *search.Query) {
			q.Rooms = []search.RoomRange{{RoomID: "!other:test", From: 0, To: 100}}
		})))
		expect(t, "senders", run(t, b, q(func(q *search.Query) { q.Senders = []string{"@bob:test"} })), "$e002")
		expect(t, "not senders", run(t, b, q(func(q *search.Query) { q.NotSenders = []string{"@alice:test"} })), "$e002")
		expect(t, "types", run(t, b, q(func(q *search.Query) { q.Types = []string{"m.room.name", "m.room.topic"} })), "$e005", "$e004")
		expect(t, "not types", run(t, b, q(func(q *search.Query) { q.NotTypes = []string{"m.room.message"} })), "$e005", "$e004")
		expect(t, "keys", run(t, b, q(func(q *search.Query) { q.Keys = []string{search.KeyTopic} })), "$e005")
		expect(t, "time range", run(t, b, q(func(q *search.Query) { q.FromTS, q.ToTS = 2000, 4000 })), "$e004", "$e003", "$e002")
		expect(t, "from time", run(t, b, q(func(q *search.Query) { q.FromTS = 5000 })), "$e006", "$e005")
	})
}

// TestManyRooms: hundreds of room ranges in one query, most of them empty.
func TestManyRooms(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		b := newBackend(t, db)
		var docs []search.Doc
		var rooms []search.RoomRange
		for i := range 300 {
			d := doc(int64(i+1), "hello there")
			d.RoomID = fmt.Sprintf("!r%d:test", i)
			docs = append(docs, d)
			// Every other room is visible, and then only before the event.
			to := int64(i + 1)
			if i%2 == 1 {
				to = int64(i)
			}
			rooms = append(rooms, search.RoomRange{RoomID: d.RoomID, From: 0, To: to})
		}
		index(t, b, docs...)
		res := run(t, b, search.Query{Term: "hello", Rooms: rooms, Limit: 1000})
		if res.Count != 150 || len(res.Hits) != 150 {
			t.Fatalf("count %d, %d hits; want 150", res.Count, len(res.Hits))
		}
		for _, h := range res.Hits {
			if h.Pos%2 != 1 {
				t.Errorf("hit %s at %d: outside its room's range", h.EventID, h.Pos)
			}
		}
	})
}

func TestPagination(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		b := newBackend(t, db)
		var docs []search.Doc
		for i := range 35 {
			// Varying lengths and repetitions give varying ranks, with ties.
			text := "ping"
			for range i % 4 {
				text += " ping filler"
			}
			docs = append(docs, doc(int64(i+1), text))
		}
		index(t, b, docs...)
		for _, order := range []search.Order{search.ByRank, search.ByRecent} {
			seen := map[string]bool{}
			after, pages := "", 0
			var lastRank float64
			var lastPos int64
			for {
				res := run(t, b, search.Query{Term: "ping", Order: order, Limit: 10, After: after})
				pages++
				if res.Count != 35 {
					t.Errorf("order %d page %d: count %d, want 35", order, pages, res.Count)
				}
				for i, h := range res.Hits {
					if seen[h.EventID] {
						t.Errorf("order %d page %d: %s repeated", order, pages, h.EventID)
					}
					seen[h.EventID] = true
					if len(seen) > 1 || i > 0 {
						if order == search.ByRecent && h.Pos >= lastPos {
							t.Errorf("by recent: %d after %d", h.Pos, lastPos)
						}
						if order == search.ByRank && (h.Rank > lastRank || h.Rank == lastRank && h.Pos >= lastPos) {
							t.Errorf("by rank: (%v, %d) after (%v, %d)", h.Rank, h.Pos, lastRank, lastPos)
						}
					}
					lastRank, lastPos = h.Rank, h.Pos
				}
				if res.Next == "" {
					break
				}
				after = res.Next
				if pages > 10 {
					t.Fatal("no end of pages")
				}
			}
			if pages != 4 || len(seen) != 35 {
				t.Errorf("order %d: %d pages, %d hits; want 4 pages, 35 hits", order, pages, len(seen))
			}
		}
	})
}

func TestDeleteAndReindex(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		b := newBackend(t, db)
		name := doc(1, "secret name")
		name.Key = search.KeyName
		index(t, b, doc(1, "secret plan"), name, doc(2, "secret meeting"), doc(3, "secret garden"))
		expect(t, "before", run(t, b, search.Query{Term: "secret", Order: search.ByRecent}), "$e003", "$e002", "$e001")
		// Re-indexing the same documents (twice in one batch too) adds nothing.
		index(t, b, doc(2, "secret meeting"), doc(2, "secret meeting"), doc(3, "secret garden"))
		expect(t, "reindexed", run(t, b, search.Query{Term: "secret", Order: search.ByRecent}), "$e003", "$e002", "$e001")
		// Re-indexing with another text replaces the old one.
		index(t, b, doc(3, "public garden"))
		expect(t, "replaced, old text", run(t, b, search.Query{Term: "secret", Order: search.ByRecent}), "$e002", "$e001")
		expect(t, "replaced, new text", run(t, b, search.Query{Term: "public"}), "$e003")
		// Delete removes every key of the event.
		if err := b.Delete(context.Background(), []string{"$e001", "$e404"}); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		expect(t, "deleted", run(t, b, search.Query{Term: "secret"}), "$e002")
		expect(t, "deleted name", run(t, b, search.Query{Term: "name"}))
		if err := b.Delete(context.Background(), []string{"$e001"}); err != nil {
			t.Fatalf("Delete again: %v", err)
		}
		// A deleted event can be indexed again.
		index(t, b, doc(1, "secret again"))
		expect(t, "re-added", run(t, b, search.Query{Term: "secret", Order: search.ByRecent}), "$e002", "$e001")
	})
}

func TestBadCursor(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		b := newBackend(t, db)
		index(t, b, doc(1, "word"), doc(2, "word"))
		res := run(t, b, search.Query{Term: "word", Order: search.ByRank, Limit: 1})
		if res.Next == "" {
			t.Fatal("no next")
		}
		for _, after := range []string{"garbage!", "e30", "bm90IGpzb24", res.Next} {
			_, err := b.Search(context.Background(), search.Query{
				Term: "word", Rooms: everything(), Order: search.ByRecent, Limit: 1, After: after,
			})
			if !errors.Is(err, search.ErrBadCursor) {
				t.Errorf("after %q: %v, want ErrBadCursor", after, err)
			}
		}
		page2 := run(t, b, search.Query{Term: "word", Order: search.ByRank, Limit: 1, After: res.Next})
		if got := ids(page2); !slices.Equal(got, []string{"$e001"}) || page2.Count != 2 || page2.Next != "" {
			t.Errorf("second page: %q, count %d, next %q; want $e001, 2, none", got, page2.Count, page2.Next)
		}
	})
}
