package pushrules

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func ids(rules []Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.RuleID
	}
	return out
}

// TestDefaultsOrder pins the default rule IDs and their order: spec
// v1.19's, with the legacy mention rules in their v1.16 places.
func TestDefaultsOrder(t *testing.T) {
	rs := Defaults(alice)
	wantOverride := []string{RuleMaster, RuleSuppressNotices, RuleInviteForMe, RuleMemberEvent, RuleIsUserMention,
		RuleContainsDisplayName, RuleIsRoomMention, RuleRoomNotif, RuleTombstone, RuleReaction, RuleServerACL,
		RuleSuppressEdits}
	wantUnderride := []string{RuleCall, RuleEncryptedRoomOneToOne, RuleRoomOneToOne, RuleMessage, RuleEncrypted}
	if got := ids(rs.Override); !slices.Equal(got, wantOverride) {
		t.Errorf("override %v", got)
	}
	if got := ids(rs.Underride); !slices.Equal(got, wantUnderride) {
		t.Errorf("underride %v", got)
	}
	if len(rs.Content) != 1 || rs.Content[0].RuleID != RuleContainsUserName || *rs.Content[0].Pattern != "alice" ||
		len(rs.Room)+len(rs.Sender) != 0 {
		t.Errorf("default content/room/sender rules: %+v", rs)
	}
	if b, _ := json.Marshal(rs.Content[0]); strings.Contains(string(b), "conditions") {
		t.Errorf("content rule JSON with conditions: %s", b)
	}
	b, err := json.Marshal(rs.Override[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rule_id":".m.rule.master","default":true,"enabled":false,"actions":[],"conditions":[]}`; string(b) != want {
		t.Errorf("master rule JSON %s, want %s", b, want)
	}
	b, _ = json.Marshal(rs.Override[4])
	if !strings.Contains(string(b), `"key":"content.m\\.mentions.user_ids","value":"@alice:test.local"`) ||
		!strings.Contains(string(b), `{"set_tweak":"highlight"}`) {
		t.Errorf("is_user_mention JSON %s", b)
	}
}

func TestActionJSON(t *testing.T) {
	in := `["notify",{"set_tweak":"sound","value":"default"},{"set_tweak":"highlight","value":false},` +
		`{"set_tweak":"highlight"},"dont_notify",{"x_custom":1}]`
	var actions []Action
	if err := json.Unmarshal([]byte(in), &actions); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(actions)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Fatalf("round trip\n got %s\nwant %s", out, in)
	}
	if err := ValidateActions(actions); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an unknown object action validated: %v", err)
	}
	if o := outcomeOf(actions[:3]); !o.Notify || o.Highlight || o.Sound != "default" {
		t.Fatalf("outcome %+v", o)
	}
	for _, bad := range []string{`[1]`, `[{"set_tweak":1}]`, `[[]]`} {
		if err := json.Unmarshal([]byte(bad), &actions); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

// TestNormalize: stored enabled/actions of defaults are kept, user rules
// come before the defaults of their kind (after master), a default the spec
// dropped disappears.
func TestNormalize(t *testing.T) {
	stored := `{"global":{
		"override":[{"rule_id":"mine","enabled":true,"default":false,"conditions":[{"kind":"event_match","key":"type","pattern":"x"}],
			"actions":["notify"]},
			{"rule_id":".m.rule.master","enabled":true,"default":true,"actions":[]},
			{"rule_id":".m.rule.message","enabled":false,"default":true,"actions":[]}],
		"content":[{"rule_id":".m.rule.contains_user_name","default":true,"enabled":true,"pattern":"alice","actions":["notify"]},
			{"rule_id":"cake","default":true,"enabled":false,"pattern":"cake","actions":[],"conditions":[]}],
		"underride":[{"rule_id":".m.rule.message","enabled":false,"default":true,"actions":["dont_notify"]}]}}`
	got, err := ParseAccountData(json.RawMessage(stored))
	if err != nil {
		t.Fatal(err)
	}
	rs := Normalize(got, alice)
	if want := []string{RuleMaster, "mine"}; !slices.Equal(ids(rs.Override)[:2], want) || len(rs.Override) != 13 {
		t.Errorf("override %v", ids(rs.Override))
	}
	if !rs.Override[0].Enabled {
		t.Error("stored master enabled flag lost")
	}
	if ids(rs.Content)[0] != "cake" || len(rs.Content) != 2 || rs.Content[0].Default || rs.Content[0].Conditions != nil ||
		rs.Content[1].RuleID != RuleContainsUserName || len(rs.Content[1].Actions) != 1 {
		t.Errorf("content %+v (the stored default keeps its actions)", rs.Content)
	}
	msg, err := rs.Find(KindUnderride, RuleMessage)
	if err != nil || msg.Enabled || len(msg.Actions) != 1 || msg.Actions[0].Name != ActionDontNotify {
		t.Errorf("stored .m.rule.message %+v %v", msg, err)
	}
	if rs.Room == nil || rs.Sender == nil {
		t.Error("empty kinds must be [] not null")
	}
	if none := Normalize(nil, alice); len(none.Override) != 12 {
		t.Errorf("no stored rules: %v", ids(none.Override))
	}
	if rs, err := ParseAccountData(nil); rs != nil || err != nil {
		t.Errorf("empty content: %v %v", rs, err)
	}
	if _, err := ParseAccountData(json.RawMessage(`{"global":[]}`)); err == nil {
		t.Error("malformed content parsed")
	}
}

// TestPut covers placement with before and after, updates and refusals.
func TestPut(t *testing.T) {
	rule := func(id string) Rule { return Rule{RuleID: id, Actions: []Action{Notify()}} }
	rs := Defaults(alice)
	steps := []struct {
		name          string
		kind          Kind
		r             Rule
		before, after string
		err           error
		want          []string // the kind's rule IDs after the step (nil: unchecked)
	}{
		{"first", KindOverride, rule("a"), "", "", nil, []string{RuleMaster, "a"}},
		{"new goes first", KindOverride, rule("b"), "", "", nil, []string{RuleMaster, "b", "a"}},
		{"after", KindOverride, rule("c"), "", "a", nil, []string{RuleMaster, "b", "a", "c"}},
		{"before", KindOverride, rule("d"), "a", "", nil, []string{RuleMaster, "b", "d", "a", "c"}},
		{"before wins over after", KindOverride, rule("e"), "b", "c", nil, []string{RuleMaster, "e", "b", "d", "a", "c"}},
		{"update keeps its place", KindOverride, Rule{RuleID: "d", Actions: []Action{}}, "", "", nil, []string{RuleMaster, "e", "b",
			"d",
			"a", "c"}},
		{"update moves", KindOverride, rule("e"), "", "c", nil, []string{RuleMaster, "b", "d", "a", "c", "e"}},
		{"unknown anchor", KindOverride, rule("f"), "zzz", "", ErrBeforeAfter, nil},
		{"default anchor", KindOverride, rule("f"), RuleMemberEvent, "", ErrBeforeAfter, nil},
		{"self anchor", KindOverride, rule("a"), "a", "", ErrBeforeAfter, nil},
		{"dot id", KindOverride, rule(".m.rule.mine"), "", "", ErrInvalid, nil},
		{"slash id", KindRoom, rule("a/b"), "", "", ErrInvalid, nil},
		{"backslash id", KindRoom, rule(`a\b`), "", "", ErrInvalid, nil},
		{"content without pattern", KindContent, rule("p"), "", "", ErrInvalid, nil},
		{"unknown action", KindSender, Rule{RuleID: "@x:y", Actions: []Action{{Name: "explode"}}}, "", "", ErrInvalid, nil},
		{"bad condition", KindUnderride, Rule{RuleID: "u", Actions: []Action{}, Conditions: []Condition{{Kind: RoomMemberCount,
			Is: "lots"}}}, "", "", ErrInvalid, nil},
		{"condition without kind", KindUnderride, Rule{RuleID: "u", Actions: []Action{}, Conditions: []Condition{{}}}, "", "", ErrInvalid,
			nil},
		{"unknown condition kind is fine", KindUnderride, Rule{RuleID: "u", Actions: []Action{},
			Conditions: []Condition{{Kind: "org.future"}}}, "", "", nil,
			[]string{"u", RuleCall, RuleEncryptedRoomOneToOne, RuleRoomOneToOne, RuleMessage, RuleEncrypted}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := rs.Put(s.kind, s.r, s.before, s.after)
			if !errors.Is(err, s.err) || (s.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, s.err)
			}
			if s.want == nil {
				return
			}
			got := ids(*rs.Rules(s.kind))
			if s.kind == KindOverride {
				got = got[:len(got)-11] // without the defaults after master
			}
			if !slices.Equal(got, s.want) {
				t.Fatalf("rules %v, want %v", got, s.want)
			}
		})
	}
	if err := rs.SetEnabled(KindOverride, "d", false); err != nil {
		t.Fatal(err)
	}
	if err := rs.Put(KindOverride, rule("d"), "", ""); err != nil {
		t.Fatal(err)
	}
	if r, _ := rs.Find(KindOverride, "d"); r.Enabled {
		t.Error("an update re-enabled a disabled rule")
	}
}

func TestDeleteAndFind(t *testing.T) {
	rs := Defaults(alice)
	pattern := "x"
	mustPut(t, rs, KindContent, Rule{RuleID: "x", Pattern: &pattern, Actions: []Action{}})
	if err := rs.Delete(KindContent, "x"); err != nil {
		t.Fatal(err)
	}
	if err := rs.Delete(KindContent, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := rs.Delete(KindOverride, RuleMaster); !errors.Is(err, ErrInvalid) {
		t.Fatalf("deleting a default: %v", err)
	}
	if _, err := rs.Find("nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown kind: %v", err)
	}
	if err := rs.SetActions(KindUnderride, RuleMessage, []Action{{Name: "nope"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad actions: %v", err)
	}
	if err := rs.SetEnabled(KindSender, "@nobody:x", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("enable missing: %v", err)
	}
	clone := rs.Clone()
	if err := clone.SetEnabled(KindOverride, RuleMaster, true); err != nil {
		t.Fatal(err)
	}
	if rs.Override[0].Enabled {
		t.Fatal("Clone shares rules")
	}
}

// TestCopyRoom: a room upgrade copies the room rule and room_id overrides
// to the new room, once.
func TestCopyRoom(t *testing.T) {
	const oldRoom, newRoom = "!old:test.local", "!new:test.local"
	rs := Defaults(alice)
	mustPut(t, rs, KindRoom, Rule{RuleID: oldRoom, Actions: []Action{}})
	mustPut(t, rs, KindRoom, Rule{RuleID: "!other:test.local", Actions: []Action{Notify()}})
	old := oldRoom
	mustPut(t, rs, KindOverride, Rule{RuleID: "mute-bots", Actions: []Action{},
		Conditions: []Condition{{Kind: EventMatch, Key: "room_id", Pattern: &old}, match("sender", "@bot*")}})
	if err := rs.SetEnabled(KindRoom, oldRoom, false); err != nil {
		t.Fatal(err)
	}
	if !rs.CopyRoom(oldRoom, newRoom) {
		t.Fatal("nothing copied")
	}
	if got := ids(rs.Room); !slices.Equal(got, []string{"!other:test.local", newRoom, oldRoom}) {
		t.Fatalf("room rules %v", got)
	}
	r, err := rs.Find(KindRoom, newRoom)
	if err != nil || r.Enabled || r.Conditions != nil {
		t.Fatalf("copied room rule %+v %v", r, err)
	}
	o, err := rs.Find(KindOverride, "mute-bots-"+newRoom)
	if err != nil || *o.Conditions[0].Pattern != newRoom || *o.Conditions[1].Pattern != "@bot*" {
		t.Fatalf("copied override %+v %v", o, err)
	}
	orig, _ := rs.Find(KindOverride, "mute-bots")
	if *orig.Conditions[0].Pattern != oldRoom {
		t.Fatal("the original override changed")
	}
	if rs.CopyRoom(oldRoom, newRoom) {
		t.Fatal("copied twice")
	}
	if rs.CopyRoom("!none:test.local", newRoom) {
		t.Fatal("copied rules of a room without any")
	}
}
