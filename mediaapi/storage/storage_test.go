package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

const (
	origin = "test.local"
	alice  = "@alice:test.local"
	bob    = "@bob:test.local"
)

func open(t *testing.T, db *sqlutil.DB) *storage.Storage {
	t.Helper()
	s, err := storage.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func media(id api.MediaID, uploader, sha string, size int64) *api.Metadata {
	return &api.Metadata{
		Origin:      origin,
		MediaID:     id,
		ContentType: "image/png",
		UploadName:  "ünïcode name.png",
		Size:        size,
		SHA256:      sha,
		Uploader:    uploader,
		CreatedTS:   1000,
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func TestMediaRows(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		m := media("one", alice, "aa", 10)
		if err := s.InsertMedia(ctx, m, 0); err != nil {
			t.Fatal(err)
		}
		got, err := s.Media(ctx, origin, "one")
		if err != nil || *got != *m {
			t.Fatalf("Media = %+v, %v; want %+v", got, err, m)
		}
		_, err = s.Media(ctx, origin, "two")
		wantErr(t, err, api.ErrNotFound)
		_, err = s.Media(ctx, "other.example", "one")
		wantErr(t, err, api.ErrNotFound)
		wantErr(t, s.InsertMedia(ctx, media("one", bob, "bb", 1), 0), api.ErrCannotOverwrite)
		if u, _ := s.Usage(ctx, bob); u != 0 {
			t.Fatalf("a refused upload counted %d bytes against bob", u)
		}

		// A second row for the same file: the file is referenced until
		// there is no row at all.
		if err := s.InsertMedia(ctx, media("two", bob, "aa", 10), 0); err != nil {
			t.Fatal(err)
		}
		for sha, want := range map[string]bool{"aa": true, "cc": false} {
			if ref, err := s.FileReferenced(ctx, sha); err != nil || ref != want {
				t.Fatalf("FileReferenced(%s) = %v, %v; want %v", sha, ref, err, want)
			}
		}
	})
}

func TestQuota(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if err := s.InsertMedia(ctx, media("a", alice, "aa", 60), 100); err != nil {
			t.Fatal(err)
		}
		// The same file again still counts in full.
		if err := s.InsertMedia(ctx, media("b", alice, "aa", 40), 100); err != nil {
			t.Fatal(err)
		}
		wantErr(t, s.InsertMedia(ctx, media("c", alice, "cc", 1), 100), api.ErrQuotaExceeded)
		if _, err := s.Media(ctx, origin, "c"); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("an upload over quota was recorded: %v", err)
		}
		if u, err := s.Usage(ctx, alice); err != nil || u != 100 {
			t.Fatalf("usage %d (%v), want 100", u, err)
		}
		// Others have their own quota; 0 is none.
		if err := s.InsertMedia(ctx, media("d", bob, "aa", 100), 100); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertMedia(ctx, media("e", alice, "ee", 1<<40), 0); err != nil {
			t.Fatal(err)
		}
	})
}

// TestInsertMediaBatch: a batch's rows are recorded all together or not at
// all, and a refused row is named.
func TestInsertMediaBatch(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if err := s.InsertMedia(ctx, media("taken", bob, "aa", 1), 0); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			rows  []*api.Metadata
			index int
			want  error
		}{
			{"the third over quota",
				[]*api.Metadata{media("b1", alice, "aa", 40), media("b2", alice, "bb", 40), media("b3", alice, "cc", 40)},
				2, api.ErrQuotaExceeded},
			{"the second's ID taken",
				[]*api.Metadata{media("b1", alice, "aa", 1), media("taken", alice, "bb", 1)},
				1, api.ErrCannotOverwrite},
		} {
			var row *storage.RowError
			err := s.InsertMediaBatch(ctx, tc.rows, 100)
			if !errors.As(err, &row) || row.Index != tc.index || !errors.Is(err, tc.want) {
				t.Fatalf("%s: %v, want row %d: %v", tc.name, err, tc.index, tc.want)
			}
			if _, err := s.Media(ctx, origin, "b1"); !errors.Is(err, api.ErrNotFound) {
				t.Fatalf("%s: the first row of a refused batch was recorded (%v)", tc.name, err)
			}
			if u, _ := s.Usage(ctx, alice); u != 0 {
				t.Fatalf("%s: a refused batch counted %d bytes", tc.name, u)
			}
		}
		if err := s.InsertMediaBatch(ctx, []*api.Metadata{media("b1", alice, "aa", 50), media("b2", alice, "aa", 50)}, 100); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.Usage(ctx, alice); u != 100 {
			t.Fatalf("usage %d after a batch of 100 bytes", u)
		}
	})
}

func TestPending(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		for i, id := range []api.MediaID{"p1", "p2"} {
			p := storage.Pending{MediaID: id, Uploader: alice, CreatedTS: int64(i), ExpiresTS: 500}
			if err := s.CreatePending(ctx, p, 2); err != nil {
				t.Fatal(err)
			}
		}
		wantErr(t, s.CreatePending(ctx, storage.Pending{MediaID: "p3", Uploader: alice, CreatedTS: 2, ExpiresTS: 500}, 2),
			api.ErrTooManyPending)
		// Expired ones no longer count.
		if err := s.CreatePending(ctx, storage.Pending{MediaID: "p3", Uploader: alice, CreatedTS: 500, ExpiresTS: 900}, 2); err != nil {
			t.Fatalf("pending IDs that expired still count: %v", err)
		}
		if p, err := s.Pending(ctx, "p3", 600); err != nil || p.Uploader != alice || p.ExpiresTS != 900 {
			t.Fatalf("Pending = %+v, %v", p, err)
		}
		_, err := s.Pending(ctx, "p1", 500)
		wantErr(t, err, api.ErrNotFound)

		up := media("p3", bob, "aa", 5)
		up.CreatedTS = 600
		wantErr(t, s.CompletePending(ctx, up, 0), api.ErrNotUploader)
		up.Uploader = alice
		if err := s.CompletePending(ctx, up, 0); err != nil {
			t.Fatal(err)
		}
		if m, err := s.Media(ctx, origin, "p3"); err != nil || m.Size != 5 {
			t.Fatalf("completed upload: %+v, %v", m, err)
		}
		wantErr(t, s.CompletePending(ctx, up, 0), api.ErrCannotOverwrite)
		expired := media("p1", alice, "aa", 5)
		expired.CreatedTS = 600
		wantErr(t, s.CompletePending(ctx, expired, 0), api.ErrNotFound)
		never := media("never", alice, "aa", 5)
		wantErr(t, s.CompletePending(ctx, never, 0), api.ErrNotFound)

		// Over quota: the pending ID stays, for an upload that fits.
		if err := s.CreatePending(ctx, storage.Pending{MediaID: "q", Uploader: bob, CreatedTS: 600, ExpiresTS: 900}, 2); err != nil {
			t.Fatal(err)
		}
		big := media("q", bob, "aa", 11)
		big.CreatedTS = 600
		wantErr(t, s.CompletePending(ctx, big, 10), api.ErrQuotaExceeded)
		if _, err := s.Pending(ctx, "q", 600); err != nil {
			t.Fatalf("a refused upload took the pending ID: %v", err)
		}

		n, err := s.DeleteExpiredPending(ctx, 899)
		if err != nil || n != 2 { // p1 and p2; q expires at 900, p3 was completed
			t.Fatalf("DeleteExpiredPending = %d, %v; want 2", n, err)
		}
		if _, err := s.Pending(ctx, "q", 899); err != nil {
			t.Fatalf("the sweep took an unexpired pending ID: %v", err)
		}
	})
}
