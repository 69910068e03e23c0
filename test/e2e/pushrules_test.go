package e2e

import (
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/pushrules"
)

// syncedPushRules returns the m.push_rules of a sync's global account data,
// read by mautrix's own push rules types (nil when absent).
func syncedPushRules(t *testing.T, resp *mautrix.RespSync) *pushrules.PushRuleset {
	t.Helper()
	for _, e := range resp.AccountData.Events {
		if e.Type.Type != event.AccountDataPushRules.Type {
			continue
		}
		rs, err := pushrules.EventToPushRules(e)
		if err != nil {
			t.Fatalf("m.push_rules unreadable by mautrix: %v", err)
		}
		return rs
	}
	return nil
}

// roomTags returns the m.tag room account data of a sync for room.
func roomTags(t *testing.T, resp *mautrix.RespSync, room id.RoomID) *event.TagEventContent {
	t.Helper()
	jr, ok := resp.Rooms.Join[room]
	if !ok {
		return nil
	}
	for _, e := range jr.AccountData.Events {
		if e.Type.Type != event.AccountDataRoomTags.Type {
			continue
		}
		if err := e.Content.ParseRaw(event.AccountDataRoomTags); err != nil {
			t.Fatalf("m.tag unreadable: %v", err)
		}
		return e.Content.AsTag()
	}
	return nil
}

// TestPushRulesAndTags: a new user's first /sync carries the default push
// rules; a rule set through the push rules API wakes a long-poll and comes
// down as m.push_rules; a room tag comes down as the room's m.tag; both
// read back through their APIs with mautrix.
func TestPushRulesAndTags(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		room, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "private_chat"})
		if err != nil {
			t.Fatal(err)
		}

		init := syncOnce(t, alice, "", 0)
		defaults := syncedPushRules(t, init)
		if defaults == nil {
			t.Fatalf("initial sync without m.push_rules: %+v", init.AccountData)
		}
		if !hasRule(defaults.Override, ".m.rule.is_user_mention") || !hasRule(defaults.Underride, ".m.rule.message") {
			t.Fatalf("default rules missing: %+v", defaults)
		}

		next := make(chan *mautrix.RespSync, 1)
		go func() { next <- syncOnce(t, alice, init.NextBatch, 10*time.Second) }()
		time.Sleep(100 * time.Millisecond)
		err = alice.PutPushRule(ctx(t), "global", pushrules.RoomRule, string(room.RoomID), &mautrix.ReqPutPushRule{
			Actions: []*pushrules.PushAction{{Action: pushrules.ActionDontNotify}},
		})
		if err != nil {
			t.Fatal(err)
		}
		got := <-next
		rs := syncedPushRules(t, got)
		if rs == nil {
			t.Fatalf("the new rule did not wake /sync with m.push_rules: %+v", got.AccountData)
		}
		if r, ok := rs.Room.Map[string(room.RoomID)]; !ok || !r.Enabled || len(r.Actions) != 1 || r.Actions[0].Action != pushrules.ActionDontNotify {
			t.Fatalf("synced room rule %+v", rs.Room)
		}

		if err := alice.SetPushRuleEnabled(ctx(t), "global", pushrules.RoomRule, string(room.RoomID), false); err != nil {
			t.Fatal(err)
		}
		read, err := alice.GetPushRule(ctx(t), "global", pushrules.RoomRule, string(room.RoomID))
		if err != nil || read.Enabled {
			t.Fatalf("rule after disabling: %+v %v", read, err)
		}
		all, err := alice.GetPushRules(ctx(t))
		if err != nil || len(all.Room.Map) != 1 {
			t.Fatalf("all rules: %+v %v", all, err)
		}
		err = alice.PutPushRule(ctx(t), "global", pushrules.OverrideRule, ".m.rule.mine", &mautrix.ReqPutPushRule{})
		wantMatrixError(t, err, 400, "M_INVALID_PARAM")

		if err := alice.AddTag(ctx(t), room.RoomID, event.RoomTagFavourite, 0.5); err != nil {
			t.Fatal(err)
		}
		var tags *event.TagEventContent
		since := got.NextBatch
		for i := 0; i < 20 && tags == nil; i++ {
			resp := syncOnce(t, alice, since, 5*time.Second)
			since = resp.NextBatch
			tags = roomTags(t, resp, room.RoomID)
		}
		if tags == nil {
			t.Fatal("no m.tag in the room's account data")
		}
		if order, err := tags.Tags[event.RoomTagFavourite].Order.Float64(); err != nil || order != 0.5 {
			t.Fatalf("m.tag in the room's account data: %+v", tags)
		}
		if err := alice.RemoveTag(ctx(t), room.RoomID, event.RoomTagFavourite); err != nil {
			t.Fatal(err)
		}
		left, err := alice.GetTags(ctx(t), room.RoomID)
		if err != nil || len(left.Tags) != 0 {
			t.Fatalf("tags after removal: %+v %v", left, err)
		}
	})
}

func hasRule(rules pushrules.PushRuleArray, id string) bool {
	for _, r := range rules {
		if r.RuleID == id {
			return true
		}
	}
	return false
}
