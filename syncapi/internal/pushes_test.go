package internal

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/syncapi/storage"
)

// TestSplitOutcomes: the outcome most candidates share is the room's
// common one; only the others get rows of their own, and only the
// notified are announced.
func TestSplitOutcomes(t *testing.T) {
	plain := storage.Outcome{Notify: true, Actions: json.RawMessage(`["notify"]`)}
	loud := storage.Outcome{Notify: true, Highlight: true, Actions: json.RawMessage(`["notify",{"set_tweak":"highlight"}]`)}
	quiet := storage.Outcome{Actions: json.RawMessage(`[]`)}
	for _, c := range []struct {
		name       string
		outcomes   []userOutcome
		common     storage.Outcome
		exceptions []string
		notified   int
	}{
		{"everyone alike", []userOutcome{{"@a:x", plain}, {"@b:x", plain}}, plain, nil, 2},
		{"a mention and a muted member", []userOutcome{{"@a:x", plain}, {"@b:x", loud}, {"@c:x", quiet}, {"@d:x", plain}},
			plain, []string{"@b:x", "@c:x"}, 3},
		{"most do not notify", []userOutcome{{"@a:x", quiet}, {"@b:x", quiet}, {"@c:x", loud}}, quiet, []string{"@c:x"}, 1},
		{"one candidate", []userOutcome{{"@a:x", loud}}, loud, nil, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			common, users := splitOutcomes(c.outcomes)
			if keyOf(common) != keyOf(c.common) {
				t.Fatalf("common %+v, want %+v", common, c.common)
			}
			var ids []string
			for _, u := range users {
				ids = append(ids, u.UserID)
			}
			if !slices.Equal(ids, c.exceptions) {
				t.Fatalf("exceptions %v, want %v", ids, c.exceptions)
			}
			if n := notifiedUsers(c.outcomes); len(n) != c.notified {
				t.Fatalf("%d notified, want %d", len(n), c.notified)
			} else if len(n) > 0 && (len(n[0].Actions) == 0 || n[0].Actions[0] == nil) {
				t.Fatalf("announced actions %v", n[0].Actions)
			}
		})
	}
}
