package routing

import (
	"slices"
	"testing"
)

// TestJoinServers: the servers a remote join goes through are those the
// client named, each once; the room ID's server only when it named none
// (a restricted room's join through servers that cannot authorise it
// fails, spec: "Restricted rooms").
func TestJoinServers(t *testing.T) {
	cases := []struct {
		name   string
		roomID string
		given  []string
		want   []string
	}{
		{"none named: the room ID's server", "!a:one.test", nil, []string{"one.test"}},
		{"named: only those", "!a:one.test", []string{"two.test"}, []string{"two.test"}},
		{"named twice: once", "!a:one.test", []string{"two.test", "", "two.test", "one.test"}, []string{"two.test", "one.test"}},
		{"room version 12 ID, none named", "!abcdef", nil, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := joinServers(tc.roomID, tc.given); !slices.Equal(got, tc.want) {
				t.Fatalf("joinServers(%q, %q) = %q, want %q", tc.roomID, tc.given, got, tc.want)
			}
		})
	}
}
