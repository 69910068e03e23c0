package internal

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

func testAPI(t *testing.T) *UserAPI {
	t.Helper()
	db, err := sqlutil.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "u.db"), sqlutil.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return testAPIOn(t, db)
}

// testAPIOn returns a user API on db.
func testAPIOn(t *testing.T, db *sqlutil.DB) *UserAPI {
	t.Helper()
	store, err := storage.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	c := cache.NewMemory(cache.MemoryOptions{}, nil)
	u, err := New(Options{ServerName: "example.org", BcryptCost: 4}, store, c, nil, logrus.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A lookup that read a token row just before its revocation committed must
// not put the revoked token back in the cache.
func TestRevokedTokenIsNotRecached(t *testing.T) {
	u := testAPI(t)
	ctx := context.Background()
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "a", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	s, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "a"})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := tokenCacheKey(s.AccessToken)
	stale := encodeCachedDevice(s.Device.UserID, s.Device.ID, 0, storage.Moderation{})
	if err := u.Logout(ctx, "a", s.Device.ID); err != nil {
		t.Fatal(err)
	}
	// The racing reader now tries to fill the cache with what it read.
	if ok, _ := u.cache.SetNX(ctx, key, stale, revokedTTL); ok {
		t.Fatal("a stale fill overwrote the revocation marker")
	}
	if _, err := u.QueryAccessToken(ctx, s.AccessToken); !errors.Is(err, api.ErrUnknownToken) {
		t.Fatalf("revoked token: %v", err)
	}
}

// Eviction waits for the revoking transaction to commit, and does not happen
// when it rolls back.
func TestEvictionAfterCommit(t *testing.T) {
	u := testAPI(t)
	ctx := context.Background()
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "a", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	s, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.QueryAccessToken(ctx, s.AccessToken); err != nil {
		t.Fatal(err)
	}
	key, _ := tokenCacheKey(s.AccessToken)
	boom := errors.New("boom")
	err = u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.Logout(ctx, "a", s.Device.ID); err != nil {
			return err
		}
		if b, _, _ := u.cache.Get(ctx, key); len(b) == 1 {
			t.Error("evicted before commit")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if d, err := u.QueryAccessToken(ctx, s.AccessToken); err != nil || d.ID != s.Device.ID {
		t.Fatalf("token after rolled-back logout: %v %v", d, err)
	}
}

// A new account has a display name from the start — the localpart unless
// the request names one — written with the account, so a name the profile
// cannot hold leaves no account behind.
func TestCreateAccountDisplayName(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		u := testAPIOn(t, db)
		ctx := context.Background()
		for _, tc := range []struct {
			localpart api.Localpart
			name      string
			want      string
		}{
			{"alice", "", `"alice"`},
			{"bob", "Bob 鲍勃", `"Bob 鲍勃"`},
		} {
			if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: tc.localpart, DisplayName: tc.name}); err != nil {
				t.Fatal(err)
			}
			p, err := u.Profile(ctx, tc.localpart)
			if err != nil || string(p["displayname"]) != tc.want || len(p) != 1 {
				t.Fatalf("profile of %s = %s, %v; want displayname %s", tc.localpart, p, err, tc.want)
			}
		}
		huge := strings.Repeat("n", MaxProfileBytes)
		_, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "carol", DisplayName: huge})
		if !errors.Is(err, api.ErrProfileTooLarge) {
			t.Fatalf("a display name over the profile limit: %v", err)
		}
		if free, err := u.LocalpartAvailable(ctx, "carol"); err != nil || !free {
			t.Fatalf("carol exists after a refused creation: free %v, %v", free, err)
		}
	})
}
