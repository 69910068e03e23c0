package routing

import (
	"encoding/json"
	"testing"
)

// TestWithMembership: unsigned.membership is spliced into an event without
// unsigned, set beside what an unsigned object holds, and the result is
// the same JSON object otherwise.
func TestWithMembership(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{
			`{"type":"m.room.message","content":{"body":"hi"}}`,
			`{"content":{"body":"hi"},"type":"m.room.message","unsigned":{"membership":"join"}}`,
		},
		{`{"type":"x","unsigned":{"transaction_id":"t1"}}`, `{"type":"x","unsigned":{"membership":"join","transaction_id":"t1"}}`},
		{
			`{"type":"x","content":{"body":"the word \"unsigned\""}}`,
			`{"content":{"body":"the word \"unsigned\""},"type":"x","unsigned":{"membership":"join"}}`,
		},
		{`{}`, `{"unsigned":{"membership":"join"}}`},
	} {
		got := withMembership(json.RawMessage(c.in), "join")
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("%s: not JSON: %s", c.in, got)
		}
		_ = json.Unmarshal([]byte(c.want), &b)
		ga, _ := json.Marshal(a)
		gb, _ := json.Marshal(b)
		if string(ga) != string(gb) {
			t.Errorf("withMembership(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := withMembership(json.RawMessage(`{"a":1}`), ""); string(got) != `{"a":1}` {
		t.Errorf("no membership changed the event: %s", got)
	}
}
