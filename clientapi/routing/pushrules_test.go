package routing_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

// ruleIDs checks the IDs of a kind's rules in a GET /pushrules/global/
// answer.
func ruleIDs(kind string, want ...string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var rs map[string][]struct {
			RuleID string `json:"rule_id"`
		}
		r.Decode(t, &rs)
		var got []string
		for _, rule := range rs[kind] {
			got = append(got, rule.RuleID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s rules %v, want %v", kind, got, want)
		}
	}
}

// body checks the whole JSON body.
func body(want string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var got, exp any
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(want), &exp); err != nil {
			t.Fatal(err)
		}
		g, _ := json.Marshal(got)
		e, _ := json.Marshal(exp)
		if string(g) != string(e) {
			t.Fatalf("body %s, want %s", g, e)
		}
	}
}

// TestPushRulesHandlers covers pushrules.go: reading the defaults, adding,
// ordering, enabling, changing actions of and deleting rules, and the
// spec's errors.
func TestPushRulesHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice := f.User(t, "alice")
	tok := alice.Token
	room := "/pushrules/global/room/" + url.PathEscape("!r:test.local")
	overrides := func(ids ...string) func(t *testing.T, r *fixture.Response) {
		defaults := []string{".m.rule.suppress_notices", ".m.rule.invite_for_me", ".m.rule.member_event",
			".m.rule.is_user_mention", ".m.rule.contains_display_name", ".m.rule.is_room_mention", ".m.rule.roomnotif",
			".m.rule.tombstone", ".m.rule.reaction",
			".m.rule.room.server_acl", ".m.rule.suppress_edits"}
		return ruleIDs("override", append(append([]string{".m.rule.master"}, ids...), defaults...)...)
	}
	run(t, f, []call{
		{"without token", "GET", "/pushrules/", "", nil, 401, "M_MISSING_TOKEN", nil},
		{"all", "GET", "/pushrules/", tok, nil, 200, "", hasKeys("global")},
		{"all without slash", "GET", "/pushrules", tok, nil, 200, "", hasKeys("global")},
		{"global defaults", "GET", "/pushrules/global/", tok, nil, 200, "", ruleIDs("underride",
			".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message", ".m.rule.encrypted")},
		{"the legacy content rule", "GET", "/pushrules/global/", tok, nil, 200, "", ruleIDs("content", ".m.rule.contains_user_name")},
		{"one default", "GET", "/pushrules/global/override/.m.rule.master", tok, nil, 200, "",
			body(`{"rule_id":".m.rule.master","default":true,"enabled":false,"conditions":[],"actions":[]}`)},
		{"unknown kind", "GET", "/pushrules/global/nope/x", tok, nil, 404, "M_NOT_FOUND", nil},
		{"enabling a rule of an unknown kind", "PUT", "/pushrules/global/postcontent/x/enabled", tok, `{"enabled":false}`, 404,
			"M_NOT_FOUND", nil},
		{"creating a rule of an unknown kind", "PUT", "/pushrules/global/nope/x", tok, `{"actions":[]}`, 400, "M_INVALID_PARAM", nil},
		{"missing rule", "GET", "/pushrules/global/override/nope", tok, nil, 404, "M_NOT_FOUND", nil},
		{"other scope", "GET", "/pushrules/device/override/x", tok, nil, 404, "M_UNRECOGNIZED", nil},

		{"put room rule", "PUT", room, tok, `{"actions":["dont_notify"]}`, 200, "", body(`{}`)},
		{"read room rule", "GET", room, tok, nil, 200, "",
			body(`{"rule_id":"!r:test.local","default":false,"enabled":true,"actions":["dont_notify"]}`)},
		{"put without actions", "PUT", room, tok, `{}`, 400, "M_MISSING_PARAM", nil},
		{"put not JSON", "PUT", room, tok, `{nope`, 400, "M_NOT_JSON", nil},
		{"put bad action", "PUT", room, tok, `{"actions":[7]}`, 400, "M_BAD_JSON", nil},
		{"put unknown action", "PUT", room, tok, `{"actions":["explode"]}`, 400, "M_INVALID_PARAM", nil},
		{"put server-default ID", "PUT", "/pushrules/global/override/.m.rule.mine", tok, `{"actions":[]}`, 400, "M_INVALID_PARAM", nil},
		{"put over a default", "PUT", "/pushrules/global/override/.m.rule.master", tok, `{"actions":[]}`, 400, "M_INVALID_PARAM", nil},
		{"put backslash ID", "PUT", "/pushrules/global/override/a%5Cb", tok, `{"actions":[]}`, 400, "M_INVALID_PARAM", nil},
		{"put slash ID", "PUT", "/pushrules/global/override/a%2Fb", tok, `{"actions":[]}`, 400, "M_INVALID_PARAM", nil},
		{"content without pattern", "PUT", "/pushrules/global/content/cake", tok, `{"actions":["notify"]}`, 400, "M_INVALID_PARAM",
			nil},
		{"content", "PUT", "/pushrules/global/content/cake", tok, `{"pattern":"cake*lie","actions":["notify"]}`, 200, "", nil},
		{"read content", "GET", "/pushrules/global/content/cake", tok, nil, 200, "",
			body(`{"rule_id":"cake","default":false,"enabled":true,"pattern":"cake*lie","actions":["notify"]}`)},
		{"bad condition", "PUT", "/pushrules/global/override/a", tok,
			`{"actions":["notify"],"conditions":[{"kind":"room_member_count","is":"many"}]}`, 400, "M_INVALID_PARAM", nil},
		{"override a", "PUT", "/pushrules/global/override/a", tok,
			`{"actions":["notify"],"conditions":[{"kind":"event_match","key":"content.body","pattern":"beer"},` +
				`{"kind":"room_member_count","is":"<=10"}]}`, 200, "", nil},
		{"override b first", "PUT", "/pushrules/global/override/b", tok, `{"actions":[]}`, 200, "", nil},
		{"override c after a", "PUT", "/pushrules/global/override/c?after=a", tok, `{"actions":[]}`, 200, "", nil},
		{"override d before a", "PUT", "/pushrules/global/override/d?before=a", tok, `{"actions":[]}`, 200, "", nil},
		{"order", "GET", "/pushrules/global/", tok, nil, 200, "", overrides("b", "d", "a", "c")},
		{"unknown before", "PUT", "/pushrules/global/override/e?before=zzz", tok, `{"actions":[]}`, 400, "M_UNKNOWN", nil},
		{"before a default", "PUT", "/pushrules/global/override/e?before=.m.rule.member_event", tok, `{"actions":[]}`, 400, "M_UNKNOWN",
			nil},
		{"conditions kept", "GET", "/pushrules/global/override/a", tok, nil, 200, "",
			body(`{"rule_id":"a","default":false,"enabled":true,"actions":["notify"],` +
				`"conditions":[{"kind":"event_match","key":"content.body","pattern":"beer"},{"kind":"room_member_count","is":"<=10"}]}`)},

		{"enabled of a default", "GET", "/pushrules/global/underride/.m.rule.message/enabled", tok, nil, 200, "",
			body(`{"enabled":true}`)},
		{"disable a default", "PUT", "/pushrules/global/underride/.m.rule.message/enabled", tok, `{"enabled":false}`, 200, "",
			body(`{}`)},
		{"default disabled", "GET", "/pushrules/global/underride/.m.rule.message/enabled", tok, nil, 200, "",
			body(`{"enabled":false}`)},
		{"enabled without value", "PUT", "/pushrules/global/underride/.m.rule.message/enabled", tok, `{}`, 400, "M_MISSING_PARAM", nil},
		{"enabled not a boolean", "PUT", "/pushrules/global/underride/.m.rule.message/enabled", tok, `{"enabled":"no"}`, 400,
			"M_BAD_JSON", nil},
		{"enable missing", "PUT", "/pushrules/global/sender/" + url.PathEscape("@x:test.local") + "/enabled", tok, `{"enabled":true}`,
			404, "M_NOT_FOUND", nil},
		{"enabled of missing", "GET", "/pushrules/global/sender/x/enabled", tok, nil, 404, "M_NOT_FOUND", nil},
		{"actions of a default", "GET", "/pushrules/global/override/.m.rule.tombstone/actions", tok, nil, 200, "",
			body(`{"actions":["notify",{"set_tweak":"highlight"}]}`)},
		{"set actions of a default", "PUT", "/pushrules/global/override/.m.rule.tombstone/actions", tok,
			`{"actions":["notify",{"set_tweak":"sound","value":"bing"}]}`, 200, "", body(`{}`)},
		{"actions changed", "GET", "/pushrules/global/override/.m.rule.tombstone/actions", tok, nil, 200, "",
			body(`{"actions":["notify",{"set_tweak":"sound","value":"bing"}]}`)},
		{"actions missing", "PUT", "/pushrules/global/override/.m.rule.tombstone/actions", tok, `{}`, 400, "M_MISSING_PARAM", nil},
		{"actions unknown", "PUT", "/pushrules/global/override/.m.rule.tombstone/actions", tok, `{"actions":[{"x":1}]}`, 400,
			"M_INVALID_PARAM", nil},
		{"actions of missing", "PUT", "/pushrules/global/override/nope/actions", tok, `{"actions":[]}`, 404, "M_NOT_FOUND", nil},

		{"delete", "DELETE", "/pushrules/global/override/a", tok, nil, 200, "", body(`{}`)},
		{"deleted", "GET", "/pushrules/global/override/a", tok, nil, 404, "M_NOT_FOUND", nil},
		{"delete again", "DELETE", "/pushrules/global/override/a", tok, nil, 404, "M_NOT_FOUND", nil},
		{"delete a default", "DELETE", "/pushrules/global/override/.m.rule.master", tok, nil, 400, "M_INVALID_PARAM", nil},
		{"account data API still refuses m.push_rules", "PUT", "/user/" + alice.ID + "/account_data/m.push_rules", tok, `{}`, 405,
			"M_BAD_JSON", nil},
		{"account data API reads the rules", "GET", "/user/" + alice.ID + "/account_data/m.push_rules", tok, nil, 200, "",
			hasKeys("global")},
	})
}

// TestPushRulesPerUser: one user's rules are not another's.
func TestPushRulesPerUser(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	run(t, f, []call{
		{"alice adds", "PUT", "/pushrules/global/sender/" + url.PathEscape("@spam:test.local"), alice.Token, `{"actions":[]}`, 200, "",
			nil},
		{"bob has none", "GET", "/pushrules/global/", bob.Token, nil, 200, "", ruleIDs("sender")},
		{"alice has it", "GET", "/pushrules/global/", alice.Token, nil, 200, "", ruleIDs("sender", "@spam:test.local")},
		{"invite rule names bob", "GET", "/pushrules/global/override/.m.rule.invite_for_me", bob.Token, nil, 200, "", func(t *testing.T,
			r *fixture.Response) {
			var rule struct {
				Conditions []struct{ Key, Pattern string }
			}
			r.Decode(t, &rule)
			if len(rule.Conditions) != 3 || rule.Conditions[2].Pattern != bob.ID {
				t.Fatalf("conditions %+v", rule.Conditions)
			}
		}},
	})
}
