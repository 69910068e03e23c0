package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

// TestURLPreviews: an answer is found until it expires, a new one replaces
// it, storing drops the expired answers of other URLs, and URLs longer than
// a PostgreSQL index entry are cached too.
func TestURLPreviews(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		const page = "https://example.org/page"
		long := "https://example.org/" + strings.Repeat("x", 4000)
		put := func(url, response string, fetched, expires int64) {
			t.Helper()
			p := storage.URLPreview{URL: url, Response: []byte(response), FetchedTS: fetched, ExpiresTS: expires}
			if err := s.PutURLPreview(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		want := func(url string, now int64, response string) {
			t.Helper()
			got, ok, err := s.URLPreview(ctx, url, now)
			if err != nil || ok != (response != "") || string(got) != response {
				t.Fatalf("URLPreview(%.30s, %d) = %q, %v, %v; want %q", url, now, got, ok, err, response)
			}
		}

		want(page, 0, "")
		put(page, `{"og:title":"one"}`, 1000, 2000)
		put(long, `{"og:title":"long"}`, 1000, 5000)
		want(page, 1999, `{"og:title":"one"}`)
		want(page, 2000, "")
		want(page+"/other", 1500, "")
		want(long, 1500, `{"og:title":"long"}`)

		put(page, `{"og:title":"two"}`, 3000, 4000)
		want(page, 3500, `{"og:title":"two"}`)

		// Fetched at 6000: the long URL's answer (expired at 5000) goes.
		put("https://example.org/new", `{}`, 6000, 7000)
		var rows int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM mediaapi_url_previews`).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("%d rows (%v) after storing past every expiry, want 1", rows, err)
		}
	})
}
