package internal

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

func testAPI(t *testing.T) *UserAPI {
	t.Helper()
	ctx := context.Background()
	db, err := sqlutil.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "u.db"), sqlutil.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	store, err := storage.New(ctx, db)
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
	stale := encodeCachedDevice(s.Device.UserID, s.Device.ID, 0)
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
