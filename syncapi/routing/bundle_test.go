package routing

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/myelin-im/myelin/syncapi/storage"
)

// TestWithRelations: m.relations lands in the event's own unsigned object,
// spliced or decoded, never in a nested one, and the result is JSON equal
// to setting it by hand.
func TestWithRelations(t *testing.T) {
	rels := map[string]json.RawMessage{"m.reference": json.RawMessage(`{"chunk":[{"event_id":"$r"}]}`)}
	var relsValue any
	_ = json.Unmarshal(relationsObject(rels), &relsValue)
	for _, tc := range []struct{ name, in string }{
		{"no unsigned", `{"event_id":"$a","content":{"body":"x"}}`},
		{"unsigned last", `{"event_id":"$a","content":{},"unsigned":{"membership":"join"}}`},
		{"empty unsigned last", `{"event_id":"$a","unsigned":{}}`},
		{"unsigned first", `{"unsigned":{"age":1},"event_id":"$a"}`},
		{"nested unsigned in content", `{"event_id":"$a","content":{"unsigned":{"x":1}}}`},
		{"redacted_because with its own unsigned", `{"event_id":"$a","unsigned":{"redacted_because":{"unsigned":{"age":2}}}}`},
		{"strings with braces", `{"event_id":"$a","content":{"body":"}\"{"},"unsigned":{"m":"}"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := withRelations(json.RawMessage(tc.in), rels)
			var want, have map[string]any
			if err := json.Unmarshal([]byte(tc.in), &want); err != nil {
				t.Fatal(err)
			}
			u, _ := want["unsigned"].(map[string]any)
			if u == nil {
				u = map[string]any{}
			}
			u["m.relations"] = relsValue
			want["unsigned"] = u
			wantJS, _ := json.Marshal(want)
			_ = json.Unmarshal(wantJS, &want)
			if err := json.Unmarshal(got, &have); err != nil {
				t.Fatalf("invalid JSON %s: %v", got, err)
			}
			if !reflect.DeepEqual(have, want) {
				t.Fatalf("got %s", got)
			}
		})
	}
}

// TestValidEdit: the spec's validity rules for replacement events.
func TestValidEdit(t *testing.T) {
	sk := ""
	ev := func(id, sender, typ, content string) *storage.Event {
		return &storage.Event{ID: id, RoomID: "!r", Sender: sender, Type: typ,
			JSON: []byte(`{"event_id":"` + id + `","type":"` + typ + `","content":` + content + `}`)}
	}
	orig := ev("$o", "@a", "m.room.message", `{"body":"x"}`)
	edit := func(sender, typ, content string) *storage.Event { return ev("$e", sender, typ, content) }
	good := `{"body":"* y","m.new_content":{"body":"y"},"m.relates_to":{"rel_type":"m.replace","event_id":"$o"}}`
	state := ev("$s", "@a", "m.room.message", `{"body":"x"}`)
	state.StateKey = &sk
	otherRoom := edit("@a", "m.room.message", good)
	otherRoom.RoomID = "!other"
	for _, tc := range []struct {
		name       string
		orig, edit *storage.Event
		want       bool
	}{
		{"valid", orig, edit("@a", "m.room.message", good), true},
		{"other sender", orig, edit("@b", "m.room.message", good), false},
		{"other type", orig, edit("@a", "m.sticker", good), false},
		{"other room", orig, otherRoom, false},
		{"no m.new_content", orig, edit("@a", "m.room.message", `{"body":"* y"}`), false},
		{"encrypted", ev("$o", "@a", "m.room.encrypted", `{}`), edit("@a", "m.room.encrypted", `{"ciphertext":"z"}`), true},
		{"state original", state, edit("@a", "m.room.message", good), false},
		{"original is an edit", ev("$o", "@a", "m.room.message", good), edit("@a", "m.room.message", good), false},
		{"redacted original", ev("$o", "@a", "m.room.message", `{},"unsigned":{"redacted_because":{}}`),
			edit("@a", "m.room.message", good), false},
	} {
		if got := validEdit(tc.orig, tc.edit); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
