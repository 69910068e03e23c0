package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// DirectoryEntry is one searchable user of the user directory.
type DirectoryEntry struct {
	UserID      string
	Local       bool
	DisplayName string
	AvatarURL   string
	Signature   string // the profile field im.myelin.signature
}

// SetDirectoryEntry adds a user to the directory or replaces their entry and
// its search terms.
func (s *Storage) SetDirectoryEntry(ctx context.Context, e DirectoryEntry) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `INSERT INTO userapi_user_directory (user_id, is_local, display_name, avatar_url, signature)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET is_local = EXCLUDED.is_local,
			display_name = EXCLUDED.display_name, avatar_url = EXCLUDED.avatar_url, signature = EXCLUDED.signature`,
			e.UserID, e.Local, e.DisplayName, e.AvatarURL, e.Signature); err != nil {
			return fmt.Errorf("storage: writing directory entry: %w", err)
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM userapi_user_directory_terms WHERE user_id = $1`, e.UserID); err != nil {
			return fmt.Errorf("storage: clearing directory terms: %w", err)
		}
		for _, t := range directoryTerms(e) {
			if _, err := s.db.Exec(ctx, `INSERT INTO userapi_user_directory_terms (user_id, term) VALUES ($1, $2)`,
				e.UserID, t); err != nil {
				return fmt.Errorf("storage: writing directory term: %w", err)
			}
		}
		return nil
	})
}

// DeleteDirectoryEntry removes a user from the directory (absent is not an
// error); their room memberships stay, as they still are members.
func (s *Storage) DeleteDirectoryEntry(ctx context.Context, userID string) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `DELETE FROM userapi_user_directory_terms WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("storage: deleting directory terms: %w", err)
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM userapi_user_directory WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("storage: deleting directory entry: %w", err)
		}
		return nil
	})
}

// InsertDirectoryEntries adds many new users at once (the directory's
// first fill and benchmarks) in one transaction. The users must not be in
// the directory yet.
func (s *Storage) InsertDirectoryEntries(ctx context.Context, entries []DirectoryEntry) error {
	rows := make([][]any, 0, len(entries))
	var terms [][]any
	for _, e := range entries {
		rows = append(rows, []any{e.UserID, e.Local, e.DisplayName, e.AvatarURL, e.Signature})
		for _, t := range directoryTerms(e) {
			terms = append(terms, []any{e.UserID, t})
		}
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		err := s.insertRows(ctx,
			`INSERT INTO userapi_user_directory (user_id, is_local, display_name, avatar_url, signature) VALUES `, rows)
		if err != nil {
			return fmt.Errorf("storage: inserting directory entries: %w", err)
		}
		if err := s.insertRows(ctx, `INSERT INTO userapi_user_directory_terms (user_id, term) VALUES `, terms); err != nil {
			return fmt.Errorf("storage: inserting directory terms: %w", err)
		}
		return nil
	})
}

// bulkRows is the row count of one multi-row insert: a constant, so that
// bulk inserts use two statement texts (full chunks, single rows) and the
// prepared-statement cache stays small.
const bulkRows = 200

// insertRows inserts rows (all of one width) with the statement prefix
// "INSERT INTO t (…) VALUES ".
func (s *Storage) insertRows(ctx context.Context, prefix string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	full := prefix + valuesList(bulkRows, width)
	for len(rows) >= bulkRows {
		args := make([]any, 0, bulkRows*width)
		for _, r := range rows[:bulkRows] {
			args = append(args, r...)
		}
		if _, err := s.db.Exec(ctx, full, args...); err != nil {
			return err
		}
		rows = rows[bulkRows:]
	}
	one := prefix + valuesList(1, width)
	for _, r := range rows {
		if _, err := s.db.Exec(ctx, one, r...); err != nil {
			return err
		}
	}
	return nil
}

// valuesList returns n tuples of k placeholders: "($1,$2),($3,$4)".
func valuesList(n, k int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(placeholders(i*k, k))
	}
	return b.String()
}

// placeholders returns "($n+1, …, $n+k)".
func placeholders(n, k int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := 1; i <= k; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		b.WriteString("$" + strconv.Itoa(n+i))
	}
	b.WriteByte(')')
	return b.String()
}

// DirectoryEmpty reports whether the directory has no entry at all.
func (s *Storage) DirectoryEmpty(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM userapi_user_directory LIMIT 1) AS d`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("storage: reading directory: %w", err)
	}
	return n == 0, nil
}

// ActiveLocalparts returns the localparts of every account that is not
// deactivated (the directory's first fill).
func (s *Storage) ActiveLocalparts(ctx context.Context) ([]string, error) {
	out, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
		var l string
		return l, sc.Scan(&l)
	}, `SELECT localpart FROM userapi_accounts WHERE NOT deactivated ORDER BY localpart`)
	if err != nil {
		return nil, fmt.Errorf("storage: listing accounts: %w", err)
	}
	return out, nil
}
