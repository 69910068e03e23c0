package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/pushrules"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// pushAPIOn is a user API on db with a real in-process bus, and the
// account-data changes it announces.
func pushAPIOn(t *testing.T, db *sqlutil.DB) (*UserAPI, <-chan api.AccountDataChange) {
	t.Helper()
	ctx := context.Background()
	b, err := bus.NewDurable(ctx, db, bus.Options{}, logrus.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	store, err := storage.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Options{ServerName: "example.org", BcryptCost: 4}, store, cache.NewMemory(cache.MemoryOptions{}, nil), b,
		logrus.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan api.AccountDataChange, 100)
	_, err = b.Subscribe(ctx, api.AccountDataTopic, "test", func(_ context.Context, m *bus.Message) error {
		var c api.AccountDataChange
		if err := json.Unmarshal(m.Body, &c); err != nil {
			t.Error(err)
		}
		changes <- c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "alice", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	return u, changes
}

func expectAccountData(t *testing.T, changes <-chan api.AccountDataChange, roomID, typ string) {
	t.Helper()
	select {
	case c := <-changes:
		if c.UserID != "@alice:example.org" || c.RoomID != roomID || c.Type != typ {
			t.Fatalf("announced %+v, want %s %q", c, typ, roomID)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s change announced", typ)
	}
}

// TestPushRulesStorage: edits are stored as m.push_rules account data and
// announced, reads normalize, an initial account-data read carries the
// defaults, and the compiled rules follow every change.
func TestPushRulesStorage(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		u, changes := pushAPIOn(t, db)
		ctx := context.Background()

		// Before any change: the defaults, in an initial read too.
		rs, err := u.PushRules(ctx, "alice")
		if err != nil || len(rs.Override) != 12 || rs.Override[2].Conditions[2].Pattern == nil ||
			*rs.Override[2].Conditions[2].Pattern != "@alice:example.org" {
			t.Fatalf("default rules %+v %v", rs, err)
		}
		entries, _, err := u.AccountDataSince(ctx, "alice", -1)
		if err != nil || len(entries) != 1 || entries[0].Type != pushrules.AccountDataType {
			t.Fatalf("initial account data %+v %v", entries, err)
		}
		if entries, _, _ := u.AccountDataSince(ctx, "alice", 0); len(entries) != 0 {
			t.Fatalf("incremental read invented push rules: %+v", entries)
		}

		ev, err := pushrules.NewEvent([]byte(`{"type":"m.room.message","sender":"@bob:example.org",` +
			`"room_id":"!r:example.org","content":{"body":"hi"}}`))
		if err != nil {
			t.Fatal(err)
		}
		room := &pushrules.Room{MemberCount: 3}
		evaluate := func() pushrules.Result {
			t.Helper()
			c, err := u.CompiledPushRules(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			return c.Evaluate(ev, room, pushrules.User{ID: "@alice:example.org"})
		}
		if res := evaluate(); res.RuleID != pushrules.RuleMessage {
			t.Fatalf("before: %+v", res)
		}

		mute := pushrules.Rule{RuleID: "@bob:example.org", Actions: []pushrules.Action{{Name: pushrules.ActionDontNotify}}}
		if err := u.PutPushRule(ctx, "alice", pushrules.KindSender, mute, "", ""); err != nil {
			t.Fatal(err)
		}
		expectAccountData(t, changes, "", pushrules.AccountDataType)
		if res := evaluate(); res.Kind != pushrules.KindSender || res.Notify {
			t.Fatalf("cached rules missed the new sender rule: %+v", res)
		}

		if err := u.SetPushRuleEnabled(ctx, "alice", pushrules.KindSender, "@bob:example.org", false); err != nil {
			t.Fatal(err)
		}
		expectAccountData(t, changes, "", pushrules.AccountDataType)
		if res := evaluate(); res.RuleID != pushrules.RuleMessage {
			t.Fatalf("disabled rule still applies: %+v", res)
		}
		loud := []pushrules.Action{pushrules.Notify(), pushrules.SetTweak(pushrules.TweakHighlight, nil)}
		if err := u.SetPushRuleActions(ctx, "alice", pushrules.KindUnderride, pushrules.RuleMessage, loud); err != nil {
			t.Fatal(err)
		}
		expectAccountData(t, changes, "", pushrules.AccountDataType)
		if res := evaluate(); !res.Highlight {
			t.Fatalf("changed default actions not applied: %+v", res)
		}

		// What /sync and the account-data API read is the normalized ruleset.
		content, err := u.AccountData(ctx, "alice", "", pushrules.AccountDataType)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := pushrules.ParseAccountData(content)
		if err != nil || len(stored.Sender) != 1 || stored.Sender[0].Enabled || len(stored.Override) != 12 {
			t.Fatalf("stored %s %v", content, err)
		}
		entries, _, _ = u.AccountDataSince(ctx, "alice", -1)
		if len(entries) != 1 || string(entries[0].Content) != string(content) {
			t.Fatalf("initial read after changes: %+v", entries)
		}

		if err := u.DeletePushRule(ctx, "alice", pushrules.KindSender, "@bob:example.org"); err != nil {
			t.Fatal(err)
		}
		expectAccountData(t, changes, "", pushrules.AccountDataType)
		for _, err := range []error{
			u.DeletePushRule(ctx, "alice", pushrules.KindSender, "@bob:example.org"),
			u.SetPushRuleEnabled(ctx, "alice", pushrules.KindRoom, "!nope:example.org", true),
		} {
			if !errors.Is(err, pushrules.ErrNotFound) {
				t.Fatalf("missing rule: %v", err)
			}
		}
		if err := u.PutPushRule(ctx, "alice", pushrules.KindOverride, pushrules.Rule{RuleID: ".m.rule.x"}, "", ""); !errors.Is(err,
			pushrules.ErrInvalid) {
			t.Fatalf("server-default rule ID: %v", err)
		}
		if err := u.PutPushRule(ctx, "alice", pushrules.KindOverride, pushrules.Rule{RuleID: "x", Actions: []pushrules.Action{}},
			"nope",
			""); !errors.Is(err, pushrules.ErrBeforeAfter) {
			t.Fatalf("unknown before: %v", err)
		}
	})
}

// TestPushRuleEditsDoNotLoseUpdates: concurrent edits by one user each
// land (the per-user lock makes them read-modify-write in turn).
func TestPushRuleEditsDoNotLoseUpdates(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		u, _ := pushAPIOn(t, db)
		ctx := context.Background()
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				errs <- u.PutPushRule(ctx, "alice", pushrules.KindRoom, pushrules.Rule{RuleID: fmt.Sprintf("!r%d:example.org", i),
					Actions: []pushrules.Action{}}, "", "")
			}()
			go func() {
				defer wg.Done()
				errs <- u.SetRoomTag(ctx, "alice", "!r:example.org", fmt.Sprintf("u.t%d", i), json.RawMessage(`{}`))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		rs, err := u.PushRules(ctx, "alice")
		if err != nil || len(rs.Room) != n {
			t.Fatalf("%d room rules after %d puts (%v)", len(rs.Room), n, err)
		}
		var tags tagsContent
		content, err := u.AccountData(ctx, "alice", "!r:example.org", api.TagsAccountDataType)
		if err != nil || json.Unmarshal(content, &tags) != nil || len(tags.Tags) != n {
			t.Fatalf("tags %s after %d puts (%v)", content, n, err)
		}
	})
}

// TestRoomTags: tags are m.tag room account data, announced on change; a
// delete of an absent tag changes nothing.
func TestRoomTags(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		u, changes := pushAPIOn(t, db)
		ctx := context.Background()
		const room = "!r:example.org"
		if err := u.SetRoomTag(ctx, "alice", room, "m.favourite", json.RawMessage(`{"order":0.5}`)); err != nil {
			t.Fatal(err)
		}
		expectAccountData(t, changes, room, api.TagsAccountDataType)
		if err := u.SetRoomTag(ctx, "alice", room, "u.work", json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		expectAccountData(t, changes, room, api.TagsAccountDataType)
		if err := u.DeleteRoomTag(ctx, "alice", room, "m.favourite"); err != nil {
			t.Fatal(err)
		}
		expectAccountData(t, changes, room, api.TagsAccountDataType)
		content, err := u.AccountData(ctx, "alice", room, api.TagsAccountDataType)
		if err != nil || string(content) != `{"tags":{"u.work":{}}}` {
			t.Fatalf("m.tag %s %v", content, err)
		}
		if err := u.DeleteRoomTag(ctx, "alice", room, "m.lowpriority"); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-changes:
			t.Fatalf("deleting an absent tag announced %+v", c)
		case <-time.After(200 * time.Millisecond):
		}
	})
}

// TestCopyRoomPushRules: an upgrade's copy is stored and announced; a room
// without rules stores nothing.
func TestCopyRoomPushRules(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		u, changes := pushAPIOn(t, db)
		ctx := context.Background()
		mute := pushrules.Rule{RuleID: "!old:example.org", Actions: []pushrules.Action{}}
		if err := u.PutPushRule(ctx, "alice", pushrules.KindRoom, mute, "", ""); err != nil {
			t.Fatal(err)
		}
		expectAccountData(t, changes, "", pushrules.AccountDataType)
		if err := u.CopyRoomPushRules(ctx, "alice", "!old:example.org", "!new:example.org"); err != nil {
			t.Fatal(err)
		}
		expectAccountData(t, changes, "", pushrules.AccountDataType)
		rs, err := u.PushRules(ctx, "alice")
		if err != nil || len(rs.Room) != 2 || rs.Room[0].RuleID != "!new:example.org" {
			t.Fatalf("room rules %+v %v", rs.Room, err)
		}
		if err := u.CopyRoomPushRules(ctx, "alice", "!none:example.org", "!new2:example.org"); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-changes:
			t.Fatalf("copying nothing announced %+v", c)
		case <-time.After(200 * time.Millisecond):
		}
	})
}
