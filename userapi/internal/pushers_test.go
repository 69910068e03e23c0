package internal

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
)

// TestMayHavePushers: a user without pushers has none; one set here is
// seen at once; one set through another user API on the same database is
// seen once the set is read again (PusherHoldersRefresh later); a deleted
// one is gone by then too.
func TestMayHavePushers(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		here, _ := pushAPIOn(t, db)
		other, err := New(Options{ServerName: "example.org", BcryptCost: 4}, here.store, here.cache, here.bus, here.log, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1_800_000_000, 0)
		here.SetClock(func() time.Time { return now })
		pusher := func(l api.Localpart, key string) api.Pusher {
			return api.Pusher{Localpart: l, DeviceID: "DEV", Kind: "http", AppID: "app", PushKey: key,
				Data: json.RawMessage(`{"url":"https://push.example/_matrix/push/v1/notify"}`)}
		}
		if here.MayHavePushers(ctx, "alice") {
			t.Fatal("alice has no pusher yet")
		}
		if err := here.SetPusher(ctx, pusher("alice", "a"), false); err != nil {
			t.Fatal(err)
		}
		if !here.MayHavePushers(ctx, "alice") {
			t.Fatal("a pusher set here is not seen")
		}
		if err := other.SetPusher(ctx, pusher("bob", "b"), false); err != nil {
			t.Fatal(err)
		}
		if err := here.DeletePusher(ctx, "alice", "app", "a"); err != nil {
			t.Fatal(err)
		}
		if here.MayHavePushers(ctx, "bob") {
			t.Fatal("read again before its time")
		}
		now = now.Add(PusherHoldersRefresh + time.Second)
		if !here.MayHavePushers(ctx, "bob") || here.MayHavePushers(ctx, "alice") {
			t.Fatal("after a refresh: bob's pusher (set elsewhere) not seen, or alice's deleted one still is")
		}
	})
}
