package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
)

// TestOpenIDTokens: a token finds its owner until it expires; expired rows
// are swept by the next insert; deactivation's delete removes a user's.
func TestOpenIDTokens(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if err := s.InsertOpenIDToken(ctx, "h1", "alice", 1000, 2000); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertOpenIDToken(ctx, "h2", "bob", 1500, 5000); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			hash string
			now  int64
			want api.Localpart // "" for ErrUnknownToken
		}{
			{"valid", "h1", 1999, "alice"},
			{"at expiry", "h1", 2000, ""},
			{"another user's", "h2", 1999, "bob"},
			{"unknown", "nope", 1000, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.OpenIDToken(ctx, tc.hash, tc.now)
				if tc.want == "" {
					if !errors.Is(err, api.ErrUnknownToken) {
						t.Fatalf("OpenIDToken = %q, %v; want ErrUnknownToken", got, err)
					}
					return
				}
				if err != nil || got != tc.want {
					t.Fatalf("OpenIDToken = %q, %v; want %q", got, err, tc.want)
				}
			})
		}
		// An insert at 3000 sweeps h1 (expired at 2000) but keeps h2.
		if err := s.InsertOpenIDToken(ctx, "h3", "alice", 3000, 6000); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM userapi_openid_tokens WHERE token_hash = 'h1'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("expired row left: %d, %v", n, err)
		}
		if err := s.DeleteOpenIDTokens(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OpenIDToken(ctx, "h3", 3000); !errors.Is(err, api.ErrUnknownToken) {
			t.Fatalf("deleted token: %v", err)
		}
		if l, err := s.OpenIDToken(ctx, "h2", 3000); err != nil || l != "bob" {
			t.Fatalf("bob's token after alice's delete: %q, %v", l, err)
		}
	})
}
