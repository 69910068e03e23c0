package internal

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/pushrules"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
)

// TestCarryRoomSettings: push rules, tags and m.direct follow an upgrade;
// tags the new room has keep their content; a second carry changes nothing.
func TestCarryRoomSettings(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		u, changes := pushAPIOn(t, db)
		ctx := context.Background()
		const oldRoom, newRoom = "!old:example.org", "!new:example.org"
		mustDo := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		mustDo(u.PutPushRule(ctx, "alice", pushrules.KindRoom, pushrules.Rule{RuleID: oldRoom, Actions: []pushrules.Action{}}, "", ""))
		mustDo(u.SetRoomTag(ctx, "alice", oldRoom, "m.favourite", json.RawMessage(`{"order":0.5}`)))
		mustDo(u.SetRoomTag(ctx, "alice", oldRoom, "u.work", json.RawMessage(`{"order":0.1}`)))
		mustDo(u.SetRoomTag(ctx, "alice", newRoom, "u.work", json.RawMessage(`{"order":0.9}`)))
		mustDo(u.SetAccountData(ctx, "alice", "", api.DirectAccountDataType,
			json.RawMessage(`{"@bob:example.org":["!other:example.org","`+oldRoom+`"],"@carol:example.org":["!c:example.org"]}`)))
		drain(changes)

		mustDo(u.CarryRoomSettings(ctx, "alice", oldRoom, newRoom))
		rs, err := u.PushRules(ctx, "alice")
		if err != nil || len(rs.Room) != 2 {
			t.Fatalf("room rules %+v %v", rs.Room, err)
		}
		tags, err := u.AccountData(ctx, "alice", newRoom, api.TagsAccountDataType)
		if err != nil || string(tags) != `{"tags":{"m.favourite":{"order":0.5},"u.work":{"order":0.9}}}` {
			t.Fatalf("new room's m.tag %s %v", tags, err)
		}
		direct, err := u.AccountData(ctx, "alice", "", api.DirectAccountDataType)
		want := `{"@bob:example.org":["!other:example.org","!old:example.org","!new:example.org"],"@carol:example.org":["!c:example.org"]}`
		if err != nil || string(direct) != want {
			t.Fatalf("m.direct %s %v; want %s", direct, err, want)
		}
		if n := len(drain(changes)); n != 3 {
			t.Fatalf("%d account data changes announced; want 3 (push rules, m.tag, m.direct)", n)
		}

		mustDo(u.CarryRoomSettings(ctx, "alice", oldRoom, newRoom))
		mustDo(u.CarryRoomSettings(ctx, "bob", oldRoom, newRoom)) // bob has no settings at all
		if got := drain(changes); len(got) != 0 {
			t.Fatalf("carrying again announced %+v", got)
		}
	})
}

// drain reads the announced changes until none comes for a while.
func drain[T any](ch <-chan T) []T {
	var out []T
	for {
		select {
		case c := <-ch:
			out = append(out, c)
		case <-time.After(200 * time.Millisecond):
			return out
		}
	}
}
