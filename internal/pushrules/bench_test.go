package pushrules

import (
	"fmt"
	"testing"
)

// BenchmarkEvaluate1000Members is the per-event cost of push rules in a
// room of 1,000 local members (issue 14's target: such a room still sends
// under 20 ms p99): flattening the event once, then evaluating it against
// each member's compiled rules. Every tenth member has a user rule of each
// kind, so the rulesets are not all the defaults.
func BenchmarkEvaluate1000Members(b *testing.B) {
	const n = 1000
	users := make([]User, n)
	compiled := make([]*Compiled, n)
	for i := range users {
		users[i] = User{ID: fmt.Sprintf("@user%d:test.local", i), DisplayName: fmt.Sprintf("User %d", i)}
		rs := Defaults(users[i].ID)
		if i%10 == 0 {
			pattern := "deploy*"
			mustPutB(b, rs, KindContent, Rule{RuleID: "deploy", Pattern: &pattern, Actions: []Action{Notify()}})
			mustPutB(b, rs, KindRoom, Rule{RuleID: "!other:test.local", Actions: []Action{}})
			mustPutB(b, rs, KindSender, Rule{RuleID: "@spam:test.local", Actions: []Action{}})
		}
		compiled[i] = Compile(rs)
	}
	raw := []byte(`{"type":"m.room.message","sender":"@user7:test.local","room_id":"!room:test.local","event_id":"$e",
		"origin_server_ts":1,"content":{"msgtype":"m.text","body":"hello everyone, the release is out",
		"m.mentions":{"user_ids":["@user3:test.local"]}},"unsigned":{"age":1}}`)
	room := &Room{MemberCount: n, PowerLevels: &PowerLevels{Users: map[string]int64{"@user7:test.local": 100}}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ev, err := NewEvent(raw)
		if err != nil {
			b.Fatal(err)
		}
		notified := 0
		for i := range users {
			if compiled[i].Evaluate(ev, room, users[i]).Notify {
				notified++
			}
		}
		if notified != n-1 {
			b.Fatalf("%d notified, want %d", notified, n-1)
		}
	}
}

func mustPutB(b *testing.B, rs *Ruleset, k Kind, r Rule) {
	b.Helper()
	if err := rs.Put(k, r, "", ""); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCompile is the cost of compiling one user's rules (a cache miss).
func BenchmarkCompile(b *testing.B) {
	rs := Defaults(alice)
	b.ReportAllocs()
	for b.Loop() {
		Compile(rs)
	}
}
