// Package sqltest runs storage tests against every supported database: a fresh
// SQLite file and a fresh PostgreSQL database per test.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/testenv"
)

// WithAllDatabases runs fn as a subtest once per dialect, each with a new,
// empty database that is removed afterwards.
func WithAllDatabases(t *testing.T, fn func(t *testing.T, db *sqlutil.DB)) {
	t.Helper()
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open returns a new, empty database of dialect d, closed and removed when the
// test ends.
func Open(t testing.TB, d sqlutil.Dialect) *sqlutil.DB {
	t.Helper()
	u := URL(t, d)
	db, err := sqlutil.Open(context.Background(), u, sqlutil.Options{})
	if err != nil {
		t.Fatalf("opening %s: %v", d, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing %s: %v", d, err)
		}
	})
	return db
}

// URL returns the URL of a new, empty database of dialect d, removed when the
// test ends. Tests that start whole servers use it.
func URL(t testing.TB, d sqlutil.Dialect) string {
	t.Helper()
	switch d {
	case sqlutil.SQLite:
		return "sqlite://" + filepath.Join(t.TempDir(), "test.db")
	case sqlutil.Postgres:
		base := testenv.PostgresURL(t)
		return newPostgresDatabase(t, base)
	}
	t.Fatalf("unknown dialect %q", d)
	return ""
}

func newPostgresDatabase(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer func() { _ = admin.Close() }()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "myelin_t_" + hex.EncodeToString(b[:])
	// The name is made of hex digits only, so quoting it is safe.
	if _, err := admin.Exec(`CREATE DATABASE "` + name + `"`); err != nil {
		t.Fatalf("postgres: creating test database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("postgres", base)
		if err != nil {
			return
		}
		defer func() { _ = a.Close() }()
		_, _ = a.Exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
