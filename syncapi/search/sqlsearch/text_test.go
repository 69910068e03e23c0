package sqlsearch

import (
	"context"
	"strconv"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi/search"
)

// TestQuoting: tokens holding characters that are syntax in tsvector,
// tsquery or FTS5 queries stay lexemes. search.Analyze never makes such
// tokens (it keeps letters and digits only), so these are built by hand.
func TestQuoting(t *testing.T) {
	odd := []string{"it's", `back\slash`, "a:b", "x&y", "p|q", "!not", "(paren)", "<->", "a<b>c", `"quoted"`, "''", `\`, "#明"}
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		if db.Dialect() == sqlutil.SQLite {
			// FTS5: a quoted string is one phrase whatever it holds; the
			// tokenizer splits the punctuation off, in documents and
			// queries alike.
			if _, err := New(ctx, db, nil); err != nil {
				t.Fatal(err)
			}
			for _, w := range odd {
				q := ftsMatch([]search.Clause{{Phrase: []string{w, "z"}}, {Char: w}})
				var n int
				row := db.QueryRow(ctx, `SELECT COUNT(*) FROM syncapi_search_fts WHERE syncapi_search_fts MATCH $1`, q)
				if err := row.Scan(&n); err != nil {
					t.Errorf("token %q: query %q: %v", w, q, err)
				}
			}
			return
		}
		for _, w := range odd {
			vec := tsvector(search.Analyzed{Words: []string{"before", w, "after"}, Chars: []string{w}}, "!room:test")
			for _, tc := range []struct {
				clauses []search.Clause
				want    bool
			}{
				{[]search.Clause{{Phrase: []string{w}}}, true},
				{[]search.Clause{{Phrase: []string{"before", w, "after"}}}, true},
				{[]search.Clause{{Phrase: []string{w, "before"}}}, false},
				{[]search.Clause{{Char: w}}, true},
				{[]search.Clause{{Phrase: []string{w + "x"}}}, false},
			} {
				var got bool
				q := tsquery(tc.clauses)
				if err := db.QueryRow(ctx, `SELECT $1::tsvector @@ $2::tsquery`, vec, q).Scan(&got); err != nil {
					t.Errorf("token %q: %s @@ %s: %v", w, vec, q, err)
				} else if got != tc.want {
					t.Errorf("token %q: %s @@ %s = %v, want %v", w, vec, q, got, tc.want)
				}
			}
		}
	})
}

// TestLongText: words past PostgreSQL's position limit are left out rather
// than clamped, so no phrase matches that Match would reject. (A word's
// occurrences past its 256th are left out likewise: the tsvector limit.)
func TestLongText(t *testing.T) {
	words := make([]string, 0, maxPosition+10)
	for i := range maxPosition - 1 {
		words = append(words, "w"+strconv.Itoa(i))
	}
	words = append(words, "b", "c", "d")
	a := words[maxPosition-2]
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		if db.Dialect() != sqlutil.Postgres {
			t.Skip("PostgreSQL's limits only")
		}
		vec := tsvector(search.Analyzed{Words: words}, "!room:test")
		for _, tc := range []struct {
			phrase []string
			want   bool
		}{
			{[]string{a, "b"}, true}, // b is at the last position
			{[]string{"b", "c"}, false},
			{[]string{"c"}, false},
		} {
			var got bool
			if err := db.QueryRow(context.Background(), `SELECT $1::tsvector @@ $2::tsquery`,
				vec, tsquery([]search.Clause{{Phrase: tc.phrase}})).Scan(&got); err != nil {
				t.Fatal(err)
			} else if got != tc.want {
				t.Errorf("%q: %v, want %v", tc.phrase, got, tc.want)
			}
		}
	})
}
