package storage_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/storage"
)

func TestAliases(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)

		if _, err := s.Alias(ctx, "#nope:x"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Alias(unknown) = %v; want ErrNotFound", err)
		}
		if err := s.DeleteAlias(ctx, "#nope:x"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("DeleteAlias(unknown) = %v; want ErrNotFound", err)
		}
		if got, err := s.AliasesOfRoom(ctx, "!a:x"); err != nil || len(got) != 0 {
			t.Fatalf("AliasesOfRoom(no aliases) = %q, %v", got, err)
		}

		// Unicode and case are kept: aliases are compared exactly.
		for _, a := range []string{"#tea:x", "#Tea:x", "#茶:x"} {
			if err := s.InsertAlias(ctx, a, "!a:x", "@alice:x", 1000); err != nil {
				t.Fatalf("InsertAlias(%s): %v", a, err)
			}
		}
		if err := s.InsertAlias(ctx, "#coffee:x", "!b:x", "@bob:x", 2000); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertAlias(ctx, "#tea:x", "!b:x", "@bob:x", 3000); !errors.Is(err, storage.ErrAliasExists) {
			t.Fatalf("InsertAlias(taken) = %v; want ErrAliasExists", err)
		}
		a, err := s.Alias(ctx, "#tea:x")
		if err != nil || *a != (storage.Alias{Alias: "#tea:x", RoomID: "!a:x", Creator: "@alice:x", CreatedTS: 1000}) {
			t.Fatalf("Alias = %+v, %v", a, err)
		}
		got, err := s.AliasesOfRoom(ctx, "!a:x")
		if want := []string{"#Tea:x", "#tea:x", "#茶:x"}; err != nil || !slices.Equal(got, want) {
			t.Fatalf("AliasesOfRoom = %q, %v; want %q", got, err, want)
		}

		if err := s.DeleteAlias(ctx, "#tea:x"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Alias(ctx, "#tea:x"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Alias after delete = %v", err)
		}
		if err := s.DeleteAlias(ctx, "#tea:x"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("second DeleteAlias = %v; want ErrNotFound", err)
		}
		// A deleted alias can be taken again, by another room.
		if err := s.InsertAlias(ctx, "#tea:x", "!b:x", "@bob:x", 4000); err != nil {
			t.Fatal(err)
		}
		if a, err := s.Alias(ctx, "#tea:x"); err != nil || a.RoomID != "!b:x" || a.Creator != "@bob:x" {
			t.Fatalf("Alias after re-take = %+v, %v", a, err)
		}

		// Within a transaction that rolls back, nothing stays.
		boom := errors.New("boom")
		err = s.WithTx(ctx, func(ctx context.Context) error {
			if err := s.InsertAlias(ctx, "#rolled:x", "!a:x", "@alice:x", 1); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, err := s.Alias(ctx, "#rolled:x"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("rolled back alias = %v", err)
		}
	})
}

// TestAliasRace checks that of many concurrent claims on one alias exactly
// one wins.
func TestAliasRace(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.InsertAlias(ctx, "#race:x", "!r:x", "@u:x", int64(i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, storage.ErrAliasExists):
					lost++
				default:
					t.Errorf("InsertAlias: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || lost != n-1 {
			t.Fatalf("won %d, lost %d; want 1 and %d", won, lost, n-1)
		}
	})
}

func TestPublishedRooms(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		expect := func(want ...string) {
			t.Helper()
			got, err := s.PublishedRooms(ctx)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("PublishedRooms = %q, %v; want %q", got, err, want)
			}
		}
		expect()
		for _, r := range []string{"!m:x", "!a:x", "!z:x", "!a:x"} { // twice is once
			if err := s.SetPublished(ctx, r, true, 1); err != nil {
				t.Fatal(err)
			}
		}
		expect("!a:x", "!m:x", "!z:x")
		if ok, err := s.IsPublished(ctx, "!m:x"); err != nil || !ok {
			t.Fatalf("IsPublished(!m) = %v, %v", ok, err)
		}
		for range 2 { // unpublishing twice is fine
			if err := s.SetPublished(ctx, "!m:x", false, 2); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := s.IsPublished(ctx, "!m:x"); err != nil || ok {
			t.Fatalf("IsPublished(unpublished) = %v, %v", ok, err)
		}
		if ok, err := s.IsPublished(ctx, "!never:x"); err != nil || ok {
			t.Fatalf("IsPublished(never) = %v, %v", ok, err)
		}
		expect("!a:x", "!z:x")
	})
}
