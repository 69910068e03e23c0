package internal_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/test/fixture"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// countingAccountData is the real user API, counting its reads.
type countingAccountData struct {
	real  userapi.AccountData
	reads atomic.Int32
}

func (c *countingAccountData) SetAccountData(ctx context.Context, lp userapi.Localpart, roomID, typ string, content json.RawMessage) error {
	return c.real.SetAccountData(ctx, lp, roomID, typ, content)
}

func (c *countingAccountData) AccountDataSince(
	ctx context.Context, lp userapi.Localpart, since int64,
) ([]userapi.AccountDataEntry, int64, error) {
	return c.real.AccountDataSince(ctx, lp, since)
}

func (c *countingAccountData) AccountData(ctx context.Context, lp userapi.Localpart, roomID, typ string) (json.RawMessage, error) {
	c.reads.Add(1)
	return c.real.AccountData(ctx, lp, roomID, typ)
}

// TestIgnoresCache: a user's list is read once, kept until invalidated,
// then read again; users of other servers ignore no one here.
func TestIgnoresCache(t *testing.T) {
	f := fixture.New(t)
	alice := f.User(t, "alice")
	ad := &countingAccountData{real: f.Users}
	c := internal.NewIgnores(ad, f.ServerName)
	ctx := context.Background()
	of := func() map[string]bool {
		t.Helper()
		set, err := c.Of(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	if set := of(); set != nil || ad.reads.Load() != 1 {
		t.Fatalf("before any list: %v after %d reads", set, ad.reads.Load())
	}
	set := func(content string) {
		t.Helper()
		if err := f.Users.SetAccountData(ctx, "alice", "", userapi.IgnoredUserListType, json.RawMessage(content)); err != nil {
			t.Fatal(err)
		}
	}
	set(`{"ignored_users":{"@bob:` + f.ServerName + `":{}}}`)
	if s := of(); s != nil || ad.reads.Load() != 1 {
		t.Fatalf("cached: %v after %d reads, want the cached empty list and 1 read", s, ad.reads.Load())
	}
	c.Invalidate(alice.ID)
	if s := of(); !s["@bob:"+f.ServerName] || ad.reads.Load() != 2 {
		t.Fatalf("after invalidation: %v after %d reads", s, ad.reads.Load())
	}
	of()
	if ad.reads.Load() != 2 {
		t.Fatalf("%d reads, want the list cached", ad.reads.Load())
	}
	if s, err := c.Of(ctx, "@alice:elsewhere.example"); s != nil || err != nil || ad.reads.Load() != 2 {
		t.Fatalf("remote user: %v %v", s, err)
	}
}

func TestHides(t *testing.T) {
	ignored := map[string]bool{"@bob:x": true}
	for _, tc := range []struct {
		name    string
		sender  string
		isState bool
		want    bool
	}{
		{"ignored sender's message", "@bob:x", false, true},
		{"ignored sender's state event", "@bob:x", true, false},
		{"other sender's message", "@carol:x", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := internal.Hides(ignored, tc.sender, tc.isState); got != tc.want {
				t.Errorf("Hides = %v, want %v", got, tc.want)
			}
		})
	}
	if internal.Hides(nil, "@bob:x", false) {
		t.Error("nothing ignored, yet hidden")
	}
}
