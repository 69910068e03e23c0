package sqlutil_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

func TestGroupCommit(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		migrated(t, db)
		var hooks atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, 200)
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = db.WithGroupTx(ctx, func(ctx context.Context) error {
					if !db.InTx(ctx) {
						return errors.New("no transaction in the group write")
					}
					if _, err := db.Exec(ctx, `INSERT INTO items (name, n) VALUES ($1, $2)`, fmt.Sprintf("g%d", i), i); err != nil {
						return err
					}
					// Every tenth write fails after writing: only it is undone.
					if i%10 == 3 {
						// A duplicate name also breaks the statement on PostgreSQL,
						// which the group must recover from (rolled back, the others rerun).
						if _, err := db.Exec(ctx, `INSERT INTO items (name, n) VALUES ($1, $2)`, fmt.Sprintf("g%d", i), i); err == nil {
							return errors.New("duplicate accepted")
						}
						return errBoom
					}
					db.AfterCommit(ctx, func() { hooks.Add(1) })
					// Nested WithTx joins the group's transaction.
					return db.WithTx(ctx, func(ctx context.Context) error {
						_, err := db.Exec(ctx, `UPDATE items SET n = n + 1000 WHERE name = $1`, fmt.Sprintf("g%d", i))
						return err
					})
				})
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if i%10 == 3 {
				if !errors.Is(err, errBoom) {
					t.Fatalf("write %d: %v, want boom", i, err)
				}
			} else if err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		var n, sum int
		if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(n), 0) FROM items`).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		if n != 180 || hooks.Load() != 180 {
			t.Fatalf("rows %d, hooks %d; want 180 each", n, hooks.Load())
		}
		var ok int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM items WHERE n >= 1000`).Scan(&ok); err != nil || ok != 180 {
			t.Fatalf("nested writes: %d %v", ok, err)
		}
		// A panic fails only its own write.
		err := db.WithGroupTx(ctx, func(ctx context.Context) error { panic("boom") })
		if err == nil {
			t.Fatal("panic swallowed")
		}
		if err := db.WithGroupTx(ctx, func(ctx context.Context) error {
			_, err := db.Exec(ctx, `INSERT INTO items (name) VALUES ('after-panic')`)
			return err
		}); err != nil {
			t.Fatalf("write after a panic: %v", err)
		}
		// A cancelled context is refused before it runs.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		ran := false
		if err := db.WithGroupTx(cctx, func(context.Context) error { ran = true; return nil }); err == nil || ran {
			t.Fatalf("cancelled write: err=%v ran=%v", err, ran)
		}
	})
}

func TestGroupCommitAfterClose(t *testing.T) {
	db := sqltest.Open(t, sqlutil.SQLite)
	migrated(t, db)
	if err := db.WithGroupTx(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := db.WithGroupTx(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, sqlutil.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

var errBoom = errors.New("boom")
