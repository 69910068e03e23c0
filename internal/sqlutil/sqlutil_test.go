package sqlutil_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

var testMigrations = fstest.MapFS{
	"001_items.sql": {Data: []byte(`
-- dialect: sqlite
CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, n BIGINT NOT NULL DEFAULT 0);
-- dialect: postgres
CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, n BIGINT NOT NULL DEFAULT 0);
-- dialect: all
CREATE INDEX items_n ON items (n);
`)},
	"002_flags.sql": {Data: []byte(`ALTER TABLE items ADD COLUMN flag BOOLEAN NOT NULL DEFAULT FALSE;`)},
}

func migrated(t *testing.T, db *sqlutil.DB) {
	t.Helper()
	if err := sqlutil.Migrate(context.Background(), db, "test", testMigrations); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

func TestMigrate(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		migrated(t, db)
		// Applying again is a no-op.
		migrated(t, db)
		v, err := sqlutil.SchemaVersion(ctx, db, "test")
		if err != nil || v != 2 {
			t.Fatalf("version = %d, %v; want 2", v, err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO items (name, flag) VALUES ($1, $2)`, "a", true); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var flag bool
		if err := db.QueryRow(ctx, `SELECT flag FROM items WHERE name = $1`, "a").Scan(&flag); err != nil || !flag {
			t.Fatalf("flag = %v, %v", flag, err)
		}
	})
}

func TestMigrateRejectsGaps(t *testing.T) {
	db := sqltest.Open(t, sqlutil.SQLite)
	err := sqlutil.Migrate(context.Background(), db, "gappy", fstest.MapFS{
		"001_a.sql": {Data: []byte(`CREATE TABLE a (x INTEGER);`)},
		"003_c.sql": {Data: []byte(`CREATE TABLE c (x INTEGER);`)},
	})
	if err == nil {
		t.Fatal("a gap in migration numbers was accepted")
	}
}

func TestMigrateFailureRollsBack(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		err := sqlutil.Migrate(ctx, db, "bad", fstest.MapFS{
			"001_ok.sql":  {Data: []byte(`CREATE TABLE okt (x INTEGER);`)},
			"002_bad.sql": {Data: []byte("CREATE TABLE half (x INTEGER);\nTHIS IS NOT SQL;")},
		})
		if err == nil {
			t.Fatal("broken migration succeeded")
		}
		v, _ := sqlutil.SchemaVersion(ctx, db, "bad")
		if v != 1 {
			t.Fatalf("version = %d, want 1", v)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM half`).Scan(&n); err == nil {
			t.Fatal("table from the failed migration exists")
		}
	})
}

func TestListArgument(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		migrated(t, db)
		for i, name := range []string{"a", "b'; DROP TABLE items; --", "c", "d"} {
			if _, err := db.Exec(ctx, `INSERT INTO items (name, n) VALUES ($1, $2)`, name, i); err != nil {
				t.Fatal(err)
			}
		}
		scan := func(s sqlutil.Scanner) (string, error) {
			var v string
			return v, s.Scan(&v)
		}
		got, err := sqlutil.Select(ctx, db, scan, `SELECT name FROM items WHERE name = ANY($1) AND n >= $2 ORDER BY n`,
			sqlutil.List([]string{"a", "b'; DROP TABLE items; --", "zz"}), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0] != "a" || got[1] != "b'; DROP TABLE items; --" {
			t.Fatalf("got %q", got)
		}
		ints, err := sqlutil.Select(ctx, db, scan, `SELECT name FROM items WHERE n = ANY($1) ORDER BY n`, sqlutil.List([]int64{2, 3}))
		if err != nil || len(ints) != 2 || ints[0] != "c" {
			t.Fatalf("ints: %q %v", ints, err)
		}
		empty, err := sqlutil.Select(ctx, db, scan, `SELECT name FROM items WHERE name = ANY($1)`, sqlutil.List([]string(nil)))
		if err != nil || len(empty) != 0 {
			t.Fatalf("empty list: %q %v", empty, err)
		}
	})
}

func TestTransactions(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		migrated(t, db)
		boom := errors.New("boom")
		err := db.WithTx(ctx, func(ctx context.Context) error {
			if _, err := db.Exec(ctx, `INSERT INTO items (name) VALUES ($1)`, "rolled-back"); err != nil {
				return err
			}
			// A nested WithTx joins the outer transaction.
			return db.WithTx(ctx, func(ctx context.Context) error {
				if !db.InTx(ctx) {
					t.Error("nested context has no transaction")
				}
				return boom
			})
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM items`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("count after rollback = %d, %v", n, err)
		}
		err = db.WithTx(ctx, func(ctx context.Context) error {
			if _, err := db.Exec(ctx, `INSERT INTO items (name) VALUES ($1)`, "kept"); err != nil {
				return err
			}
			// Reads inside the transaction see its writes.
			return db.QueryRow(ctx, `SELECT COUNT(*) FROM items`).Scan(&n)
		})
		if err != nil || n != 1 {
			t.Fatalf("commit: n=%d err=%v", n, err)
		}
		var id int64
		if err := db.QueryRowWrite(ctx, `INSERT INTO items (name) VALUES ($1) RETURNING id`, "returning").Scan(&id); err != nil || id == 0 {
			t.Fatalf("returning: %d %v", id, err)
		}
	})
}

// Concurrent writers never fail with "database is locked" on SQLite: writes go
// through one connection.
func TestConcurrentWrites(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		migrated(t, db)
		if _, err := db.Exec(ctx, `INSERT INTO items (name, n) VALUES ('counter', 0)`); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for g := 0; g < 10; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					errs <- db.WithTx(ctx, func(ctx context.Context) error {
						var n int
						if err := db.QueryRow(ctx, `SELECT n FROM items WHERE name = 'counter'`).Scan(&n); err != nil {
							return err
						}
						_, err := db.Exec(ctx, `UPDATE items SET n = n + 1 WHERE name = 'counter'`)
						return err
					})
					var n int
					if err := db.QueryRow(ctx, `SELECT n FROM items WHERE name = 'counter'`).Scan(&n); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT n FROM items WHERE name = 'counter'`).Scan(&n); err != nil || n != 200 {
			t.Fatalf("counter = %d, %v; want 200", n, err)
		}
	})
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in      string
		dialect sqlutil.Dialect
		dsn     string
		bad     bool
	}{
		{in: "sqlite:///abs/path.db", dialect: sqlutil.SQLite, dsn: "/abs/path.db"},
		{in: "sqlite://relative.db", dialect: sqlutil.SQLite, dsn: "relative.db"},
		{in: "postgres://u:p@h/db", dialect: sqlutil.Postgres, dsn: "postgres://u:p@h/db"},
		{in: "postgresql://h/db", dialect: sqlutil.Postgres, dsn: "postgresql://h/db"},
		{in: "sqlite://", bad: true},
		{in: "mysql://x", bad: true},
		{in: "", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d, dsn, err := sqlutil.ParseURL(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted %q", tc.in)
				}
				return
			}
			if err != nil || d != tc.dialect || dsn != tc.dsn {
				t.Fatalf("got %q %q %v", d, dsn, err)
			}
		})
	}
}

func TestAfterCommit(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		var ran []string
		db.AfterCommit(ctx, func() { ran = append(ran, "no tx") })
		if len(ran) != 1 {
			t.Fatal("AfterCommit without a transaction did not run at once")
		}
		_ = db.WithTx(ctx, func(ctx context.Context) error {
			db.AfterCommit(ctx, func() { ran = append(ran, "rolled back") })
			return errors.New("rollback")
		})
		err := db.WithTx(ctx, func(ctx context.Context) error {
			db.AfterCommit(ctx, func() { ran = append(ran, "outer") })
			return db.WithTx(ctx, func(ctx context.Context) error {
				db.AfterCommit(ctx, func() { ran = append(ran, "nested") })
				if len(ran) != 1 {
					t.Error("hook ran before commit")
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(ran) != 3 || ran[1] != "outer" || ran[2] != "nested" {
			t.Fatalf("hooks ran: %v", ran)
		}
	})
}

// Statements first seen inside a transaction run unprepared and are
// prepared afterwards; prepared ones run inside transactions too.
func TestPreparedStatements(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		migrated(t, db)
		const q = `INSERT INTO items (name, n) VALUES ($1, $2)`
		for round := 0; round < 3; round++ {
			err := db.WithTx(ctx, func(ctx context.Context) error {
				// A table created in this transaction is usable at once.
				if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS side (x INTEGER)`); err != nil {
					return err
				}
				if _, err := db.Exec(ctx, `INSERT INTO side (x) VALUES ($1)`, round); err != nil {
					return err
				}
				_, err := db.Exec(ctx, q, "tx"+string(rune('a'+round)), round)
				return err
			})
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if _, err := db.Exec(ctx, q, "out"+string(rune('a'+round)), round); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // let the background preparation run
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM items`).Scan(&n); err != nil || n != 6 {
			t.Fatalf("items = %d, %v", n, err)
		}
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM side`).Scan(&n); err != nil || n != 3 {
			t.Fatalf("side = %d, %v", n, err)
		}
	})
}
