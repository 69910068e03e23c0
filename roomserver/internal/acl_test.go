package internal

import "testing"

// TestServerACL checks the spec's m.room.server_acl rules.
func TestServerACL(t *testing.T) {
	allowAll := []string{"*"}
	for _, c := range []struct {
		allow, deny []string
		ip          bool
		server      string
		want        bool
	}{
		{allowAll, nil, true, "example.org", true},
		{allowAll, []string{"evil.com"}, true, "evil.com", false},
		{allowAll, []string{"evil.com"}, true, "evil.com:8448", false}, // ports are ignored
		{allowAll, []string{"*.evil.com"}, true, "sub.evil.com", false},
		{allowAll, []string{"*.evil.com"}, true, "evil.com", true},
		{allowAll, []string{"ev?l.com"}, true, "evxl.com", false},
		{allowAll, nil, false, "1.2.3.4", false},
		{allowAll, nil, false, "[::1]:8448", false},
		{allowAll, nil, true, "1.2.3.4", true},
		{[]string{"good.org"}, nil, true, "other.org", false},
		{[]string{"good.org"}, nil, true, "GOOD.org", true},
		{nil, nil, true, "good.org", false}, // nothing allowed
		{allowAll, []string{"*"}, true, "good.org", false},
	} {
		if got := aclAllows(c.allow, c.deny, c.ip, c.server); got != c.want {
			t.Errorf("allow %v deny %v ip %v: %s = %v, want %v", c.allow, c.deny, c.ip, c.server, got, c.want)
		}
	}
}
