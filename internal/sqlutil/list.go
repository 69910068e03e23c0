package sqlutil

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/lib/pq"
)

// ListArg is a list passed as one query argument to `= ANY($n)`. Build it with
// List.
type ListArg struct{ values any }

// List wraps values (a slice of strings or integers) for use with `= ANY($n)`
// in a query, so `IN`-style filters never build SQL from strings:
//
//	db.Query(ctx, `SELECT … WHERE user_id = ANY($1)`, sqlutil.List(ids))
func List[T ~string | ~int64 | ~int](values []T) ListArg {
	if values == nil {
		values = []T{}
	}
	return ListArg{values: values}
}

// anyRe finds `= ANY($n)` (case-insensitive, any spacing).
var anyRe = regexp.MustCompile(`(?i)=\s*ANY\s*\(\s*\$(\d+)\s*\)`)

// adapt turns a query written for both dialects into this dialect's form, and
// converts list arguments. Rewrites are cached per query text.
func (db *DB) adapt(query string, args []any) (string, []any) {
	hasList := false
	for _, a := range args {
		if _, ok := a.(ListArg); ok {
			hasList = true
			break
		}
	}
	if hasList {
		out := make([]any, len(args))
		for i, a := range args {
			l, ok := a.(ListArg)
			if !ok {
				out[i] = a
				continue
			}
			out[i] = db.listValue(l)
		}
		args = out
	}
	if db.dialect != SQLite {
		return query, args
	}
	if q, ok := db.rewrites.Load(query); ok {
		return q.(string), args
	}
	q := anyRe.ReplaceAllString(query, "IN (SELECT value FROM json_each($$$1))")
	db.rewrites.Store(query, q)
	return q, args
}

func (db *DB) listValue(l ListArg) any {
	if db.dialect == Postgres {
		return pq.Array(l.values)
	}
	b, err := json.Marshal(l.values)
	if err != nil {
		// Slices of strings and integers always marshal.
		panic(fmt.Sprintf("sqlutil: marshalling list: %v", err))
	}
	return string(b)
}

// Scanner is what a row scan function receives: *sql.Row or *sql.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Select runs a query and scans every row with scan.
func Select[T any](ctx context.Context, db *DB, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }() // a read error is in rows.Err, returned below
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

var _ Scanner = (*sql.Row)(nil)
