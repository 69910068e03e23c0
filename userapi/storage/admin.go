package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
)

// Moderation is what the admin API reads of an account beside AccountRow.
type Moderation struct {
	Locked, Suspended, Erased bool
}

// AccountModeration reads an account's moderation flags;
// api.ErrNoSuchAccount when there is none.
func (s *Storage) AccountModeration(ctx context.Context, localpart api.Localpart) (Moderation, error) {
	var m Moderation
	err := s.db.QueryRow(ctx, `SELECT locked, suspended, erased FROM userapi_accounts WHERE localpart = $1`, localpart).
		Scan(&m.Locked, &m.Suspended, &m.Erased)
	if err != nil {
		return m, noAccount(err, "reading moderation")
	}
	return m, nil
}

// Account flags an admin may set; their names are columns of
// userapi_accounts.
const (
	FlagAdmin     = "is_admin"
	FlagLocked    = "locked"
	FlagSuspended = "suspended"
	FlagErased    = "erased"
)

// SetAccountFlag sets one of the Flag columns of an account;
// api.ErrNoSuchAccount when there is none.
func (s *Storage) SetAccountFlag(ctx context.Context, localpart api.Localpart, flag string, on bool) error {
	switch flag {
	case FlagAdmin, FlagLocked, FlagSuspended, FlagErased:
	default:
		return fmt.Errorf("storage: unknown account flag %q", flag)
	}
	// flag is one of the constants above, never input.
	return s.execOne(ctx, `UPDATE userapi_accounts SET `+flag+` = $2 WHERE localpart = $1`, localpart, on)
}

// Reactivate lifts a deactivation, with a new password hash.
func (s *Storage) Reactivate(ctx context.Context, localpart api.Localpart, hash string) error {
	return s.execOne(ctx, `UPDATE userapi_accounts SET deactivated = FALSE, erased = FALSE, password_hash = $2
		WHERE localpart = $1`, localpart, hash)
}

// LocalAccessTokens lists the hashes of every access token of a user.
func (s *Storage) LocalAccessTokens(ctx context.Context, localpart api.Localpart) ([]string, error) {
	hs, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
		var h string
		return h, sc.Scan(&h)
	}, `SELECT token_hash FROM userapi_access_tokens WHERE localpart = $1`, localpart)
	if err != nil {
		return nil, fmt.Errorf("storage: listing access tokens: %w", err)
	}
	return hs, nil
}

// accountListOrders are the sort keys of ListAccounts (Synapse's order_by
// values), each an expression of the query below.
var accountListOrders = map[string]string{
	"name":          "a.localpart || ':'", // as the full user ID sorts
	"is_guest":      "0",
	"admin":         "a.is_admin",
	"user_type":     "0",
	"deactivated":   "a.deactivated",
	"shadow_banned": "0",
	"displayname":   "COALESCE(dn.value, '')",
	"avatar_url":    "COALESCE(av.value, '')",
	"creation_ts":   "a.created_ts",
	"last_seen_ts":  "COALESCE(seen.ts, 0)",
	"locked":        "a.locked",
	"suspended":     "a.suspended",
}

// ValidAccountOrder reports whether ListAccounts can sort by key.
func ValidAccountOrder(key string) bool {
	_, ok := accountListOrders[key]
	return ok
}

const accountListColumns = `a.localpart, a.created_ts, a.is_admin, a.deactivated, a.locked, a.suspended,
	a.erased, dn.value, av.value, COALESCE(seen.ts, 0)`

// AccountSummary describes one account; api.ErrNoSuchAccount when there
// is none. UserID is left to the caller.
func (s *Storage) AccountSummary(ctx context.Context, localpart api.Localpart) (*api.AccountSummary, error) {
	a, err := scanAccountSummary(s.db.QueryRow(ctx, `SELECT `+accountListColumns+` `+accountListFrom+`
		WHERE a.localpart = $1`, localpart))
	if err != nil {
		return nil, noAccount(err, "reading account")
	}
	return &a, nil
}

const accountListFrom = `FROM userapi_accounts a
	LEFT JOIN userapi_profile_fields dn ON dn.localpart = a.localpart AND dn.field = 'displayname'
	LEFT JOIN userapi_profile_fields av ON av.localpart = a.localpart AND av.field = 'avatar_url'
	LEFT JOIN (SELECT localpart, MAX(last_seen_ts) AS ts FROM userapi_devices GROUP BY localpart) seen
		ON seen.localpart = a.localpart`

// ListAccounts returns one page of accounts matching q, and how many match
// in all.
func (s *Storage) ListAccounts(ctx context.Context, q api.AccountQuery) ([]api.AccountSummary, int, error) {
	where, args := accountConditions(q)
	var total int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) `+accountListFrom+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("storage: counting accounts: %w", err)
	}
	order, ok := accountListOrders[q.OrderBy]
	if !ok {
		order = accountListOrders["name"]
	}
	dir := "ASC"
	if q.Backwards {
		dir = "DESC"
	}
	n := len(args)
	args = append(args, q.Limit, q.From)
	// order and dir are constants of this file, never input.
	rows, err := sqlutil.Select(ctx, s.db, scanAccountSummary, `SELECT `+accountListColumns+` `+accountListFrom+where+`
		ORDER BY `+order+` `+dir+`, a.localpart || ':' ASC LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: listing accounts: %w", err)
	}
	return rows, total, nil
}

func scanAccountSummary(sc sqlutil.Scanner) (api.AccountSummary, error) {
	var a api.AccountSummary
	var dn, av *string
	err := sc.Scan(&a.Localpart, &a.CreatedTS, &a.IsAdmin, &a.Deactivated, &a.Locked, &a.Suspended, &a.Erased,
		&dn, &av, &a.LastSeenTS)
	a.DisplayName, a.AvatarURL = jsonString(dn), jsonString(av)
	return a, err
}

// jsonString is a profile value's string (nil: absent, or not a string).
func jsonString(raw *string) *string {
	if raw == nil || !strings.HasPrefix(*raw, `"`) {
		return nil
	}
	var s string
	if json.Unmarshal([]byte(*raw), &s) != nil {
		return nil
	}
	return &s
}

// accountConditions is the WHERE clause of a ListAccounts query.
func accountConditions(q api.AccountQuery) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	switch {
	case q.Name != "":
		add(`(LOWER(a.localpart) LIKE $? ESCAPE '\' OR LOWER(COALESCE(dn.value, '')) LIKE $? ESCAPE '\')`, likePattern(q.Name))
	case q.UserID != "":
		args = append(args, q.ServerName, likePattern(q.UserID))
		conds = append(conds, fmt.Sprintf(`LOWER('@' || a.localpart || ':' || CAST($%d AS TEXT)) LIKE $%d ESCAPE '\'`,
			len(args)-1, len(args)))
	}
	for _, f := range []struct {
		col string
		v   *bool
	}{{"a.is_admin", q.Admins}, {"a.suspended", q.Suspended}} {
		if f.v != nil {
			add(f.col+` = $?`, *f.v)
		}
	}
	if !q.Deactivated {
		conds = append(conds, `a.deactivated = FALSE`)
	}
	if !q.Locked {
		conds = append(conds, `a.locked = FALSE`)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// likePattern is a LIKE pattern matching text containing s, case-insensitively.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// noAccount maps a missing row to api.ErrNoSuchAccount.
func noAccount(err error, doing string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return api.ErrNoSuchAccount
	}
	return fmt.Errorf("storage: %s: %w", doing, err)
}
