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
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.WithGroupTx(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, sqlutil.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

var errBoom = errors.New("boom")

// TestGroupCommitChains: writes submitted after a failed write of the same
// key fail with ErrDependency without running; writes after a committed one
// run; other writes are not affected.
func TestGroupCommitChains(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		migrated(t, db)
		insert := func(name string) func(context.Context) error {
			return func(ctx context.Context) error {
				_, err := db.Exec(ctx, `INSERT INTO items (name, n) VALUES ($1, 1)`, name)
				return err
			}
		}
		var ran atomic.Int64
		// A long chain that fails in the middle, submitted without waiting.
		var prev *sqlutil.Pending
		var chain []*sqlutil.Pending
		for i := 0; i < 50; i++ {
			fn := insert(fmt.Sprintf("c%d", i))
			if i == 20 {
				fn = func(ctx context.Context) error {
					if _, err := db.Exec(ctx, `INSERT INTO items (name, n) VALUES ('c20', 1)`); err != nil {
						return err
					}
					return errBoom
				}
			}
			if i > 20 {
				inner := fn
				fn = func(ctx context.Context) error { ran.Add(1); return inner(ctx) }
			}
			prev = db.SubmitGroupTxKey(ctx, "room-a", prev, fn)
			chain = append(chain, prev)
		}
		other := db.SubmitGroupTxKey(ctx, "room-b", nil, insert("other"))
		for i, p := range chain {
			err := p.Wait()
			switch {
			case i < 20 && err != nil:
				t.Fatalf("write %d before the failure: %v", i, err)
			case i == 20 && !errors.Is(err, errBoom):
				t.Fatalf("write 20: %v, want boom", err)
			case i > 20 && !errors.Is(err, sqlutil.ErrDependency):
				t.Fatalf("write %d after the failure: %v, want ErrDependency", i, err)
			}
		}
		if err := other.Wait(); err != nil {
			t.Fatalf("independent write: %v", err)
		}
		if ran.Load() != 0 {
			t.Fatalf("%d writes after the failure ran", ran.Load())
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM items WHERE name LIKE 'c%'`).Scan(&n); err != nil || n != 20 {
			t.Fatalf("chain rows %d (%v), want 20", n, err)
		}
		// After a committed write, the next runs; after a failed one (even
		// long answered) it does not.
		ok := db.SubmitGroupTxKey(ctx, "room-a", nil, insert("d1"))
		if err := ok.Wait(); err != nil {
			t.Fatal(err)
		}
		if err := db.SubmitGroupTxKey(ctx, "room-a", ok, insert("d2")).Wait(); err != nil {
			t.Fatalf("after a committed write: %v", err)
		}
		if err := db.SubmitGroupTxKey(ctx, "room-a", chain[20], insert("d3")).Wait(); !errors.Is(err, sqlutil.ErrDependency) {
			t.Fatalf("after a failed write: %v", err)
		}
	})
}
