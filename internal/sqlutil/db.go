// Package sqlutil is Myelin's one SQL layer: every query is written once, with
// PostgreSQL-style `$n` placeholders, and runs on both SQLite
// (modernc.org/sqlite: WAL, a single writer connection, concurrent readers) and
// PostgreSQL (lib/pq).
//
// The few constructs that differ between the two are adapted here rather than
// written twice by callers:
//
//   - `= ANY($n)` takes a list argument built with List; on SQLite the query is
//     rewritten to `IN (SELECT value FROM json_each($n))` and the list is passed
//     as JSON, on PostgreSQL it is passed as an array. No SQL is ever built from
//     values.
//   - Migrations (see Migrate) may hold per-dialect sections.
//
// Transactions travel in the context: inside WithTx every Exec, Query and
// QueryRow given the transaction's context runs on that transaction.
package sqlutil

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver
	"github.com/sirupsen/logrus"
	_ "modernc.org/sqlite" // SQLite driver
)

// Dialect names the database engine behind a DB.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrNoRows is returned by helpers when a single-row query found nothing. It is
// sql.ErrNoRows, so errors.Is works with either.
var ErrNoRows = sql.ErrNoRows

// Options tune a database connection.
type Options struct {
	// MaxOpenConns bounds the PostgreSQL pool and the SQLite reader pool.
	MaxOpenConns int
	// MaxIdleConns bounds idle connections (default MaxOpenConns).
	MaxIdleConns int
	// ConnMaxLifetime recycles PostgreSQL connections.
	ConnMaxLifetime time.Duration
	// SlowTxThreshold logs transactions that take longer than this (0: 1s).
	SlowTxThreshold time.Duration
}

// DB is a database handle for one dialect. It is safe for concurrent use.
type DB struct {
	dialect Dialect
	// writer runs every write and every transaction. On SQLite it holds a
	// single connection, so writes are serialised in Go instead of failing
	// with SQLITE_BUSY; on PostgreSQL it is the same pool as reader.
	writer *sql.DB
	reader *sql.DB
	slowTx time.Duration

	rewrites sync.Map // original query -> dialect query
	stmts    sync.Map // stmtKey -> *sql.Stmt
	// groups are the group-commit lanes: one on SQLite; on PostgreSQL the
	// default lane and keyedLanes more (see WithGroupTxKey).
	groups []grouper
}

// ParseURL splits a database URL into dialect and driver data source.
//
//	sqlite:///abs/path.db   absolute path
//	sqlite://relative.db    relative to the working directory
//	postgres://… postgresql://…
func ParseURL(raw string) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		path := strings.TrimPrefix(raw, "sqlite://")
		if q := strings.IndexByte(path, '?'); q >= 0 {
			path = path[:q]
		}
		if path == "" {
			return "", "", fmt.Errorf("sqlutil: %q has no file path", raw)
		}
		return SQLite, path, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return "", "", fmt.Errorf("sqlutil: bad PostgreSQL URL: %w", err)
		}
		return Postgres, raw, nil
	default:
		return "", "", fmt.Errorf("sqlutil: unsupported database URL %q (want sqlite://PATH or postgres://…)", redact(raw))
	}
}

// redact hides a password in a URL for error messages and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Redact returns the URL with any password replaced, for logs.
func Redact(raw string) string { return redact(raw) }

// Open connects to the database named by a URL (see ParseURL) and checks that
// it answers.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	dialect, dsn, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 16
	}
	if opts.MaxIdleConns <= 0 {
		// Keep connections: each holds its prepared statements, and a
		// closed one costs its statements' preparation again.
		opts.MaxIdleConns = opts.MaxOpenConns
	}
	if opts.SlowTxThreshold <= 0 {
		opts.SlowTxThreshold = time.Second
	}
	db := &DB{dialect: dialect, slowTx: opts.SlowTxThreshold}
	switch dialect {
	case SQLite:
		abs, err := filepath.Abs(dsn)
		if err != nil {
			return nil, fmt.Errorf("sqlutil: %w", err)
		}
		pragmas := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" +
			"&_pragma=synchronous(FULL)&_txlock=immediate"
		w, err := sql.Open("sqlite", "file:"+abs+"?"+pragmas)
		if err != nil {
			return nil, fmt.Errorf("sqlutil: opening sqlite writer: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		// The writer must create the file and switch it to WAL before readers open it.
		if err := w.PingContext(ctx); err != nil {
			return nil, fmt.Errorf("sqlutil: opening sqlite database %s: %w", abs, errors.Join(err, w.Close()))
		}
		r, err := sql.Open("sqlite", "file:"+abs+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)&_pragma=foreign_keys(1)")
		if err != nil {
			return nil, fmt.Errorf("sqlutil: opening sqlite readers: %w", errors.Join(err, w.Close()))
		}
		r.SetMaxOpenConns(opts.MaxOpenConns)
		r.SetMaxIdleConns(opts.MaxIdleConns)
		db.writer, db.reader = w, r
	case Postgres:
		p, err := sql.Open("postgres", dsn)
		if err != nil {
			return nil, fmt.Errorf("sqlutil: opening postgres: %w", err)
		}
		p.SetMaxOpenConns(opts.MaxOpenConns)
		p.SetMaxIdleConns(opts.MaxIdleConns)
		p.SetConnMaxLifetime(opts.ConnMaxLifetime)
		db.writer, db.reader = p, p
	}
	db.groups = make([]grouper, 1)
	if dialect == Postgres {
		db.groups = make([]grouper, 1+keyedLanes)
	}
	if err := db.Ping(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

// Dialect reports the engine behind db.
func (db *DB) Dialect() Dialect { return db.dialect }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlutil: database unreachable: %w", err)
	}
	return nil
}

// Close closes every prepared statement and connection.
func (db *DB) Close() error {
	db.stopGroups()
	db.stmts.Range(func(k, v any) bool {
		_ = v.(*sql.Stmt).Close()
		return true
	})
	err := db.writer.Close()
	if db.reader != db.writer {
		err = errors.Join(err, db.reader.Close())
	}
	return err
}

// Pools returns the underlying pools by role, for metrics.
func (db *DB) Pools() map[string]*sql.DB {
	if db.reader == db.writer {
		return map[string]*sql.DB{"main": db.writer}
	}
	return map[string]*sql.DB{"writer": db.writer, "reader": db.reader}
}

type txKey struct{ db *DB }

// txState is what a context carries for an open transaction.
type txState struct {
	tx *sql.Tx
	// afterCommit runs, in order, once the outermost transaction commits.
	afterCommit []func()
	// unprepared lists statements run unprepared in this transaction, to
	// prepare once it ends.
	unprepared []string
}

func (db *DB) stateFrom(ctx context.Context) *txState {
	st, _ := ctx.Value(txKey{db}).(*txState)
	return st
}

// txFrom returns the transaction of db carried by ctx, if any.
func (db *DB) txFrom(ctx context.Context) *sql.Tx {
	if st := db.stateFrom(ctx); st != nil {
		return st.tx
	}
	return nil
}

// AfterCommit runs fn once the transaction carried by ctx has committed, or
// at once when ctx carries none. fn never runs for a transaction that rolls
// back. Use it to signal others about data they can only see after commit
// (waking a relay, evicting a cache entry) without polling.
func (db *DB) AfterCommit(ctx context.Context, fn func()) {
	if st := db.stateFrom(ctx); st != nil {
		st.afterCommit = append(st.afterCommit, fn)
		return
	}
	fn()
}

// InTx reports whether ctx carries a transaction on db.
func (db *DB) InTx(ctx context.Context) bool { return db.txFrom(ctx) != nil }

// WithTx runs fn in a transaction carried by the context it is given, and
// commits when fn returns nil. When ctx already carries a transaction of db,
// fn joins it (and the outermost WithTx commits). A panic in fn rolls back and
// is re-raised.
func (db *DB) WithTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if db.txFrom(ctx) != nil {
		return fn(ctx)
	}
	start := time.Now()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlutil: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if d := time.Since(start); d > db.slowTx {
			logrus.WithContext(ctx).WithField("duration_ms", d.Milliseconds()).Warn("slow database transaction")
		}
	}()
	st := &txState{tx: tx}
	if err = fn(context.WithValue(ctx, txKey{db}, st)); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			err = errors.Join(err, fmt.Errorf("sqlutil: rollback: %w", rbErr))
		}
		return err
	}
	defer db.prepareLater(st.unprepared)
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlutil: commit: %w", err)
	}
	for _, f := range st.afterCommit {
		f()
	}
	return nil
}

// prepareLater prepares, in the background, statements a transaction ran
// unprepared, so their next use is prepared.
func (db *DB) prepareLater(queries []string) {
	if len(queries) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, q := range queries {
			if _, err := db.prepared(ctx, db.writer, q); err != nil {
				return // closed, or a statement that only fails outside its transaction
			}
		}
	}()
}

// stmtKey names a prepared statement of one pool.
type stmtKey struct {
	pool  *sql.DB
	query string
}

// prepared returns the pool's prepared statement for query, preparing it the
// first time. Statements are kept for the life of the DB: queries are
// constant texts, so the set is small, and parsing SQL on every call costs
// more than the work of many small statements (measured: an eighth of a
// send's CPU went to SQLite's parser).
func (db *DB) prepared(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	key := stmtKey{pool, query}
	if s, ok := db.stmts.Load(key); ok {
		return s.(*sql.Stmt), nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if actual, loaded := db.stmts.LoadOrStore(key, st); loaded {
		// Another caller prepared it first; ours was never used.
		_ = st.Close()
		return actual.(*sql.Stmt), nil
	}
	return st, nil
}

// stmtFor returns the statement to run query with: the pool's prepared
// statement, bound to the context's transaction when there is one.
//
// It returns nil (and the caller runs the query unprepared) for a statement
// first seen inside a transaction: preparing it would need another
// connection (on SQLite the transaction holds the only writer), where tables
// the transaction created do not exist yet. Such statements are prepared
// after the transaction ends.
func (db *DB) stmtFor(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	st := db.stateFrom(ctx)
	if st != nil {
		// Prepare on the writer: the transaction's connection belongs to it.
		pool = db.writer
		if _, ok := db.stmts.Load(stmtKey{pool, query}); !ok {
			st.unprepared = append(st.unprepared, query)
			return nil, nil
		}
	}
	var tx *sql.Tx
	if st != nil {
		tx = st.tx
	}
	prep, err := db.prepared(ctx, pool, query)
	if err != nil {
		return nil, err
	}
	if tx != nil {
		return tx.StmtContext(ctx, prep), nil
	}
	return prep, nil
}

// Exec runs a statement: on the context's transaction when there is one, else
// on the writer.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query, args = db.adapt(query, args)
	st, err := db.stmtFor(ctx, db.writer, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return db.txFrom(ctx).ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// Query runs a query: on the context's transaction when there is one, else on
// a reader.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query, args = db.adapt(query, args)
	st, err := db.stmtFor(ctx, db.reader, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return db.txFrom(ctx).QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRow runs a query expected to return at most one row.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.queryRow(ctx, db.reader, query, args)
}

// QueryRowWrite is QueryRow on the writer, for `INSERT … RETURNING` and
// `UPDATE … RETURNING` outside an explicit transaction.
func (db *DB) QueryRowWrite(ctx context.Context, query string, args ...any) *sql.Row {
	return db.queryRow(ctx, db.writer, query, args)
}

func (db *DB) queryRow(ctx context.Context, pool *sql.DB, query string, args []any) *sql.Row {
	query, args = db.adapt(query, args)
	st, err := db.stmtFor(ctx, pool, query)
	if err != nil || st == nil {
		// Unprepared, or let database/sql report the same error through the Row.
		if tx := db.txFrom(ctx); tx != nil {
			return tx.QueryRowContext(ctx, query, args...)
		}
		return pool.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
