package pushrules

import (
	"encoding/json"
	"fmt"
	"testing"
)

const (
	alice = "@alice:test.local"
	bob   = "@bob:test.local"
	room1 = "!room:test.local"
)

// event builds a client-format event from bob in room1 with the given
// type and content (JSON); extra top-level fields (JSON object members)
// may follow.
func event(t testing.TB, typ, content string, extra ...string) *Event {
	t.Helper()
	raw := fmt.Sprintf(`{"type":%q,"sender":%q,"room_id":%q,"event_id":"$e","origin_server_ts":1,"content":%s`, typ, bob, room1,
		content)
	for _, e := range extra {
		raw += "," + e
	}
	ev, err := NewEvent([]byte(raw + "}"))
	if err != nil {
		t.Fatalf("NewEvent(%s): %v", raw, err)
	}
	return ev
}

// TestDefaultRules checks the spec v1.19 default rules end to end: which
// rule an event meets and what that means for alice.
func TestDefaultRules(t *testing.T) {
	modPL := &PowerLevels{Users: map[string]int64{bob: 50}}
	group := &Room{MemberCount: 5}
	oneToOne := &Room{MemberCount: 2}
	cases := []struct {
		name      string
		ev        *Event
		room      *Room
		rule      string
		notify    bool
		highlight bool
		sound     string
	}{
		{"message in a group", event(t, "m.room.message", `{"msgtype":"m.text","body":"hi"}`), group, RuleMessage, true, false, ""},
		{"message one to one", event(t, "m.room.message", `{"msgtype":"m.text","body":"hi"}`), oneToOne, RuleRoomOneToOne, true, false,
			"default"},
		{"notice", event(t, "m.room.message", `{"msgtype":"m.notice","body":"bot"}`), oneToOne, RuleSuppressNotices, false, false, ""},
		{"user mention highlights", event(t, "m.room.message", `{"body":"hey","m.mentions":{"user_ids":["@alice:test.local"]}}`), group,
			RuleIsUserMention, true, true, "default"},
		{"another user's mention", event(t, "m.room.message", `{"body":"hey","m.mentions":{"user_ids":["@carol:test.local"]}}`), group,
			RuleMessage, true, false, ""},
		{"body mention with m.mentions is a plain message", event(t, "m.room.message", `{"body":"alice: hey","m.mentions":{}}`), group,
			RuleMessage, true, false, ""},
		{"body mention by display name without m.mentions (legacy)", event(t, "m.room.message", `{"body":"hey Alice!"}`),
			group, RuleContainsDisplayName, true, true, "default"},
		{"@room without m.mentions, no permission (legacy)", event(t, "m.room.message", `{"body":"@room hi"}`), group,
			RuleMessage, true, false, ""},
		{"@room without m.mentions by a moderator (legacy)", event(t, "m.room.message", `{"body":"@room hi"}`),
			&Room{MemberCount: 5, PowerLevels: modPL}, RuleRoomNotif, true, true, ""},
		{"room mention by a moderator", event(t, "m.room.message", `{"body":"all","m.mentions":{"room":true}}`), &Room{MemberCount: 5,
			PowerLevels: modPL}, RuleIsRoomMention, true, true, ""},
		{"room mention without permission", event(t, "m.room.message", `{"body":"all","m.mentions":{"room":true}}`),
			&Room{MemberCount: 5,
				PowerLevels: &PowerLevels{}}, RuleMessage, true, false, ""},
		{"room mention without power levels", event(t, "m.room.message", `{"body":"all","m.mentions":{"room":true}}`), group,
			RuleMessage,
			true, false, ""},
		{"edit does not notify", event(t, "m.room.message",
			`{"body":"* fixed","m.new_content":{"body":"fixed"},"m.relates_to":{"rel_type":"m.replace","event_id":"$o"}}`), oneToOne,
			RuleSuppressEdits, false, false, ""},
		{"edit that mentions still highlights", event(t, "m.room.message",
			`{"body":"* hi","m.mentions":{"user_ids":["@alice:test.local"]},"m.relates_to":{"rel_type":"m.replace","event_id":"$o"}}`),
			group, RuleIsUserMention, true, true, "default"},
		{"invite for me", event(t, "m.room.member", `{"membership":"invite"}`, `"state_key":"@alice:test.local"`), group,
			RuleInviteForMe,
			true, false, "default"},
		{"someone else's invite", event(t, "m.room.member", `{"membership":"invite"}`, `"state_key":"@carol:test.local"`), group,
			RuleMemberEvent, false, false, ""},
		{"join", event(t, "m.room.member", `{"membership":"join"}`, `"state_key":"@bob:test.local"`), group, RuleMemberEvent, false,
			false, ""},
		{"tombstone", event(t, "m.room.tombstone", `{"body":"moved","replacement_room":"!n:test.local"}`, `"state_key":""`), group,
			RuleTombstone, true, true, ""},
		{"tombstone-typed message event", event(t, "m.room.tombstone", `{}`), group, "", false, false, ""},
		{"reaction", event(t, "m.reaction", `{"m.relates_to":{"rel_type":"m.annotation","key":"👍","event_id":"$o"}}`), oneToOne,
			RuleReaction, false, false, ""},
		{"server ACL", event(t, "m.room.server_acl", `{"allow":["*"]}`, `"state_key":""`), group, RuleServerACL, false, false, ""},
		{"call", event(t, "m.call.invite", `{"call_id":"c"}`), group, RuleCall, true, false, "ring"},
		{"encrypted one to one", event(t, "m.room.encrypted", `{"algorithm":"m.megolm.v1.aes-sha2"}`), oneToOne,
			RuleEncryptedRoomOneToOne, true, false, "default"},
		{"encrypted in a group", event(t, "m.room.encrypted", `{"algorithm":"m.megolm.v1.aes-sha2"}`), group, RuleEncrypted, true, false,
			""},
		{"topic change", event(t, "m.room.topic", `{"topic":"t"}`, `"state_key":""`), group, "", false, false, ""},
	}
	compiled := Compile(Defaults(alice))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := compiled.Evaluate(c.ev, c.room, User{ID: alice, DisplayName: "Alice"})
			if res.RuleID != c.rule || res.Notify != c.notify || res.Highlight != c.highlight || res.Sound != c.sound {
				t.Fatalf("got rule %q notify %v highlight %v sound %q; want %q %v %v %q",
					res.RuleID, res.Notify, res.Highlight, res.Sound, c.rule, c.notify, c.highlight, c.sound)
			}
		})
	}
}

// TestOwnEventsNeverMatch: the sender is not notified of their own event.
func TestOwnEventsNeverMatch(t *testing.T) {
	res := Compile(Defaults(bob)).Evaluate(event(t, "m.room.message", `{"body":"hi"}`), &Room{MemberCount: 2}, User{ID: bob})
	if res.Matched() || res.Notify {
		t.Fatalf("own event matched %+v", res)
	}
}

// TestMasterRule: enabling .m.rule.master silences everything, mentions too.
func TestMasterRule(t *testing.T) {
	rs := Defaults(alice)
	if err := rs.SetEnabled(KindOverride, RuleMaster, true); err != nil {
		t.Fatal(err)
	}
	res := Compile(rs).Evaluate(event(t, "m.room.message", `{"body":"hi","m.mentions":{"user_ids":["@alice:test.local"]}}`),
		&Room{MemberCount: 2}, User{ID: alice})
	if res.RuleID != RuleMaster || res.Notify || res.Highlight {
		t.Fatalf("got %+v", res)
	}
}

// cond1 evaluates one override rule with condition c (JSON) on ev.
func cond1(t *testing.T, c string, ev *Event, room *Room, user User) bool {
	t.Helper()
	var cond Condition
	if err := json.Unmarshal([]byte(c), &cond); err != nil {
		t.Fatalf("condition %s: %v", c, err)
	}
	rs := &Ruleset{Override: []Rule{{RuleID: "r", Enabled: true, Conditions: []Condition{cond}, Actions: []Action{Notify()}}}}
	return Compile(rs).Evaluate(ev, room, user).Matched()
}

// TestConditions covers each condition kind with the spec's examples.
func TestConditions(t *testing.T) {
	topic := func(v string) *Event { return event(t, "m.room.topic", `{"topic":`+v+`}`, `"state_key":""`) }
	body := func(b string) *Event { return event(t, "m.room.message", fmt.Sprintf(`{"body":%q}`, b)) }
	create := event(t, "m.room.create", `{"m.federate":true,"room_version":"1","n":3,"f":1.5,"nul":null,"m\\weird":"x"}`,
		`"state_key":""`)
	aliases := event(t, "m.room.canonical_alias",
		`{"alt_aliases":["#somewhere:example.org","#myroom:example.com",1,true,null,{"x":1}]}`)
	room := &Room{MemberCount: 10, PowerLevels: &PowerLevels{
		Users: map[string]int64{bob: 20}, UsersDefault: 0, Notifications: map[string]int64{"room": 20, "other": 100},
	}}
	me := User{ID: alice, DisplayName: "Alice Smith"}
	cases := []struct {
		name string
		cond string
		ev   *Event
		want bool
	}{
		{"glob lunc?*", `{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, topic(`"Lunch plans"`), true},
		{"glob case-insensitive", `{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, topic(`"LUNCH"`), true},
		{"glob leading space", `{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, topic(`" lunch"`), false},
		{"glob ? needs a character", `{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, topic(`"lunc"`), false},
		{"glob null", `{"kind":"event_match","key":"content.topic","pattern":"*"}`, topic(`null`), false},
		{"glob * on a string", `{"kind":"event_match","key":"content.topic","pattern":"*"}`, topic(`""`), true},
		{"glob * on an absent key", `{"kind":"event_match","key":"content.nope","pattern":"*"}`, topic(`"x"`), false},
		{"glob whole value", `{"kind":"event_match","key":"content.topic","pattern":"lunch"}`, topic(`"lunch plans"`), false},
		{"glob prefix", `{"kind":"event_match","key":"type","pattern":"m.room.*"}`, topic(`"x"`), true},
		{"glob ? is one unicode character", `{"kind":"event_match","key":"content.topic","pattern":"caf?"}`, topic(`"café"`), true},
		{"glob regexp characters are literal", `{"kind":"event_match","key":"content.topic","pattern":"a.c*"}`, topic(`"abc"`), false},
		{"body word ex*ple", `{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, body("An example event."), true},
		{"body exple", `{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, body("exple"), true},
		{"body spans words", `{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, body("An exciting triple-whammy"), true},
		{"body inside a word", `{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, body("Anexample"), false},
		{"body word prefix", `{"kind":"event_match","key":"content.body","pattern":"deploy*"}`, body("we DEPLOYED it"), true},
		{"body word prefix inside a word", `{"kind":"event_match","key":"content.body","pattern":"deploy*"}`, body("redeploy"), false},
		{"body word prefix later", `{"kind":"event_match","key":"content.body","pattern":"deploy*"}`, body("redeploy, deploy"), true},
		{"body literal word", `{"kind":"event_match","key":"content.body","pattern":"cake"}`, body("I like CAKE!"), true},
		{"body literal inside a word", `{"kind":"event_match","key":"content.body","pattern":"cake"}`, body("cupcakes"), false},
		{"body literal second occurrence", `{"kind":"event_match","key":"content.body","pattern":"cake"}`, body("cupcake cake"), true},
		{"body underscore is a word character", `{"kind":"event_match","key":"content.body","pattern":"cake"}`, body("cake_x"), false},
		{"escaped dot key", `{"kind":"event_property_is","key":"content.m\\.federate","value":true}`, create, true},
		{"unescaped dot key", `{"kind":"event_property_is","key":"content.m.federate","value":true}`, create, false},
		{"escaped backslash key", `{"kind":"event_match","key":"content.m\\\\weird","pattern":"x"}`, create, true},
		{"is: string is not true", `{"kind":"event_property_is","key":"content.m\\.federate","value":"true"}`, create, false},
		{"is: string", `{"kind":"event_property_is","key":"content.room_version","value":"1"}`, create, true},
		{"is: string is exact", `{"kind":"event_property_is","key":"content.room_version","value":"1*"}`, create, false},
		{"is: no casting", `{"kind":"event_property_is","key":"content.room_version","value":1}`, create, false},
		{"is: integer", `{"kind":"event_property_is","key":"content.n","value":3}`, create, true},
		{"is: float never", `{"kind":"event_property_is","key":"content.f","value":1}`, create, false},
		{"is: null", `{"kind":"event_property_is","key":"content.nul","value":null}`, create, true},
		{"is: absent", `{"kind":"event_property_is","key":"content.nope","value":null}`, create, false},
		{"is: compound value never", `{"kind":"event_property_is","key":"content.n","value":[3]}`, create, false},
		{"contains", `{"kind":"event_property_contains","key":"content.alt_aliases","value":"#myroom:example.com"}`, aliases, true},
		{"contains partial", `{"kind":"event_property_contains","key":"content.alt_aliases","value":":example.com"}`, aliases, false},
		{"contains integer", `{"kind":"event_property_contains","key":"content.alt_aliases","value":1}`, aliases, true},
		{"contains null", `{"kind":"event_property_contains","key":"content.alt_aliases","value":null}`, aliases, true},
		{"contains on a non-array", `{"kind":"event_property_contains","key":"content.room_version","value":"1"}`, create, false},
		{"display name", `{"kind":"contains_display_name"}`, body("hi alice smith!"), true},
		{"display name inside a word", `{"kind":"contains_display_name"}`, body("hi alice smithers"), false},
		{"display name without body", `{"kind":"contains_display_name"}`, topic(`"Alice Smith"`), false},
		{"member count ==", `{"kind":"room_member_count","is":"10"}`, body("x"), true},
		{"member count ==10", `{"kind":"room_member_count","is":"==10"}`, body("x"), true},
		{"member count <10", `{"kind":"room_member_count","is":"<10"}`, body("x"), false},
		{"member count <=10", `{"kind":"room_member_count","is":"<=10"}`, body("x"), true},
		{"member count >9", `{"kind":"room_member_count","is":">9"}`, body("x"), true},
		{"member count >=11", `{"kind":"room_member_count","is":">=11"}`, body("x"), false},
		{"member count malformed", `{"kind":"room_member_count","is":"ten"}`, body("x"), false},
		{"member count signed", `{"kind":"room_member_count","is":"+10"}`, body("x"), false},
		{"permission granted", `{"kind":"sender_notification_permission","key":"room"}`, body("x"), true},
		{"permission refused", `{"kind":"sender_notification_permission","key":"other"}`, body("x"), false},
		{"permission default 50", `{"kind":"sender_notification_permission","key":"unlisted"}`, body("x"), false},
		{"unknown kind", `{"kind":"org.example.future"}`, body("x"), false},
		{"event_match without pattern", `{"kind":"event_match","key":"type"}`, body("x"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := cond1(t, c.cond, c.ev, room, me); got != c.want {
				t.Fatalf("%s on the event: %v, want %v", c.cond, got, c.want)
			}
		})
	}
}

// TestUserRules checks the kinds' priority and the predefined conditions of
// content, room and sender rules.
func TestUserRules(t *testing.T) {
	rs := Defaults(alice)
	cake := "cake"
	mustPut(t, rs, KindContent, Rule{RuleID: "cake", Pattern: &cake, Actions: []Action{Notify(), SetTweak(TweakHighlight, nil)}})
	mustPut(t, rs, KindRoom, Rule{RuleID: room1, Actions: []Action{}})
	mustPut(t, rs, KindSender, Rule{RuleID: "@carol:test.local", Actions: []Action{Notify(), SetTweak(TweakSound,
		json.RawMessage(`"x"`))}})
	compiled := Compile(rs)
	group := &Room{MemberCount: 3}
	me := User{ID: alice}

	res := compiled.Evaluate(event(t, "m.room.message", `{"body":"cake time"}`), group, me)
	if res.Kind != KindContent || !res.Highlight {
		t.Errorf("content rule: %+v", res)
	}
	res = compiled.Evaluate(event(t, "m.room.message", `{"body":"hello"}`), group, me)
	if res.Kind != KindRoom || res.Notify {
		t.Errorf("room rule: %+v", res)
	}
	other, err := NewEvent([]byte(`{"type":"m.room.message","sender":"@carol:test.local",` +
		`"room_id":"!other:test.local","content":{"body":"hi"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res = compiled.Evaluate(other, group, me)
	if res.Kind != KindSender || res.Sound != "x" {
		t.Errorf("sender rule: %+v", res)
	}
	if err := rs.SetEnabled(KindRoom, room1, false); err != nil {
		t.Fatal(err)
	}
	res = Compile(rs).Evaluate(event(t, "m.room.message", `{"body":"hello"}`), group, me)
	if res.RuleID != RuleMessage {
		t.Errorf("disabled room rule still matched: %+v", res)
	}
}

func mustPut(t *testing.T, rs *Ruleset, k Kind, r Rule) {
	t.Helper()
	if err := rs.Put(k, r, "", ""); err != nil {
		t.Fatalf("Put %s %s: %v", k, r.RuleID, err)
	}
}

// TestHistoricalActions: dont_notify and coalesce are kept and mean nothing.
func TestHistoricalActions(t *testing.T) {
	var actions []Action
	if err := json.Unmarshal([]byte(`["dont_notify","coalesce"]`), &actions); err != nil {
		t.Fatal(err)
	}
	rs := Defaults(alice)
	if err := rs.SetActions(KindUnderride, RuleMessage, actions); err != nil {
		t.Fatal(err)
	}
	res := Compile(rs).Evaluate(event(t, "m.room.message", `{"body":"x"}`), &Room{MemberCount: 3}, User{ID: alice})
	if res.RuleID != RuleMessage || res.Notify || len(res.Actions) != 2 {
		t.Fatalf("got %+v", res)
	}
}

func TestParsePowerLevels(t *testing.T) {
	pl, err := ParsePowerLevels([]byte(`{"users":{"@bob:test.local":"60","@x:y":"bad"},"users_default":10,"notifications":{"room":"55"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if pl.Users[bob] != 60 || pl.UsersDefault != 10 || pl.Notifications["room"] != 55 {
		t.Fatalf("parsed %+v", pl)
	}
	if _, ok := pl.Users["@x:y"]; ok {
		t.Fatal("a malformed level was read")
	}
	if !pl.senderMay(bob, "room") || pl.senderMay("@c:d", "room") {
		t.Fatal("levels compared wrongly")
	}
	pl.Creators = []string{"@c:d"}
	if !pl.senderMay("@c:d", "room") {
		t.Fatal("a creator lacks power")
	}
	if _, err := ParsePowerLevels([]byte(`[]`)); err == nil {
		t.Fatal("an array parsed as power levels")
	}
}

// TestLegacyUserNameRule: with a display name the body does not hold, the
// user's localpart in the body still highlights (.m.rule.contains_user_name,
// a content rule), unless the event has m.mentions.
func TestLegacyUserNameRule(t *testing.T) {
	compiled := Compile(Defaults(alice))
	room := &Room{MemberCount: 5}
	me := User{ID: alice, DisplayName: "Queen of Hearts"}
	res := compiled.Evaluate(event(t, "m.room.message", `{"body":"hey @alice:test.local!"}`), room, me)
	if res.RuleID != RuleContainsUserName || !res.Highlight {
		t.Fatalf("user name in the body: %+v", res)
	}
	res = compiled.Evaluate(event(t, "m.room.message", `{"body":"hey alice","m.mentions":{"user_ids":[]}}`), room, me)
	if res.RuleID != RuleMessage || res.Highlight {
		t.Fatalf("user name in the body with m.mentions: %+v", res)
	}
}
