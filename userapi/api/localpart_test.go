package api

import "testing"

// TestLocalpartOf: only user IDs of the given server have a localpart.
func TestLocalpartOf(t *testing.T) {
	for _, c := range []struct {
		id, server string
		want       Localpart
		ok         bool
	}{
		{"@alice:example.org", "example.org", "alice", true},
		{"@alice:example.org:8448", "example.org:8448", "alice", true},
		{"@alice:example.org", "other.org", "", false},
		{"@alice:evil.example.org", "example.org", "", false},
		{"@a:b:example.org", "example.org", "", false},
		{"alice:example.org", "example.org", "", false},
		{"@:example.org", "example.org", "", false},
	} {
		if got, ok := LocalpartOf(c.id, c.server); got != c.want || ok != c.ok {
			t.Errorf("LocalpartOf(%q, %q) = %q, %v; want %q, %v", c.id, c.server, got, ok, c.want, c.ok)
		}
	}
}
