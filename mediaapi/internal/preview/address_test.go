package preview

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAddressPolicy(t *testing.T) {
	none := addressPolicy{}
	custom := mustPolicy(t,
		[]string{"10.1.0.0/16", "127.0.0.1", "::ffff:192.168.7.0/120"},
		[]string{"93.184.0.0/16", "10.0.0.0/8", "2606:4700::/32"})
	everything := mustPolicy(t, []string{"0.0.0.0/0", "::/0"}, nil)
	tests := []struct {
		name   string
		policy addressPolicy
		ip     string
		want   bool
	}{
		{"public IPv4", none, "93.184.215.14", true},
		{"public IPv6", none, "2606:4700:4700::1111", true},
		{"loopback", none, "127.0.0.1", false},
		{"loopback elsewhere in 127/8", none, "127.45.6.7", false},
		{"IPv6 loopback", none, "::1", false},
		{"IPv4-mapped loopback", none, "::ffff:127.0.0.1", false},
		{"IPv4-compatible loopback", none, "::127.0.0.1", false},
		{"RFC 1918 10/8", none, "10.0.0.1", false},
		{"RFC 1918 172.16/12", none, "172.31.255.255", false},
		{"just outside 172.16/12", none, "172.32.0.1", true},
		{"RFC 1918 192.168/16", none, "192.168.1.1", false},
		{"IPv4-mapped private", none, "::ffff:192.168.1.1", false},
		{"unique local fd00::/8", none, "fd12:3456::1", false},
		{"link-local, cloud metadata", none, "169.254.169.254", false},
		{"IPv6 link-local", none, "fe80::1", false},
		{"IPv6 link-local with zone", none, "fe80::1%eth0", false},
		{"CGNAT", none, "100.64.0.1", false},
		{"just outside CGNAT", none, "100.128.0.1", true},
		{"this network 0/8", none, "0.1.2.3", false},
		{"unspecified IPv4", none, "0.0.0.0", false},
		{"unspecified IPv6", none, "::", false},
		{"benchmark 198.18/15", none, "198.19.0.1", false},
		{"documentation TEST-NET-3", none, "203.0.113.9", false},
		{"documentation IPv6", none, "2001:db8::1", false},
		{"IPv4 multicast", none, "239.1.2.3", false},
		{"IPv6 multicast", none, "ff02::1", false},
		{"broadcast", none, "255.255.255.255", false},
		{"site-local", none, "fec0::1", false},
		{"NAT64 of loopback", none, "64:ff9b::7f00:1", false},
		{"NAT64 of a public address", none, "64:ff9b::5db8:d70e", true},
		{"6to4 of a private address", none, "2002:c0a8:0101::1", false},
		{"6to4 of a public address", none, "2002:5db8:d70e::1", true},

		{"whitelist opens a private range", custom, "10.1.2.3", true},
		{"whitelisted single address", custom, "127.0.0.1", true},
		{"next to the whitelisted address", custom, "127.0.0.2", false},
		{"whitelist given IPv4-mapped", custom, "192.168.7.9", true},
		{"whitelisted IPv4 through NAT64", custom, "64:ff9b::a01:203", true},
		{"whitelist wins over blacklist", custom, "10.1.0.1", true},
		{"blacklisted and private", custom, "10.2.0.1", false},
		{"blacklist wins over the default allow", custom, "93.184.215.14", false},
		{"next to the blacklisted range", custom, "93.185.0.1", true},
		{"blacklisted IPv6", custom, "2606:4700::1", false},
		{"private, not whitelisted", custom, "192.168.0.1", false},

		{"all whitelisted: loopback", everything, "127.0.0.1", true},
		{"all whitelisted: still not unspecified", everything, "0.0.0.0", false},
		{"all whitelisted: still not ::", everything, "::", false},
		{"all whitelisted: still not mapped 0.0.0.0", everything, "::ffff:0.0.0.0", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.permits(netip.MustParseAddr(tc.ip)); got != tc.want {
				t.Fatalf("permits(%s) = %v, want %v", tc.ip, got, tc.want)
			}
		})
	}
}

// mustPolicy builds an addressPolicy from configured ranges.
func mustPolicy(t *testing.T, whitelist, blacklist []string) addressPolicy {
	t.Helper()
	p, err := newAddressPolicy(whitelist, blacklist)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigRefused(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad whitelist entry", Config{IPRangeWhitelist: []string{"10.0.0.0/33"}}, "ip_range_whitelist"},
		{"hostname in blacklist", Config{IPRangeBlacklist: []string{"example.org"}}, "ip_range_blacklist"},
		{"zone in a range", Config{IPRangeWhitelist: []string{"fe80::1%eth0"}}, "ip_range_whitelist"},
		{"negative size", Config{MaxBytes: -1}, "max_bytes"},
		{"negative timeout", Config{Timeout: -1}, "timeout"},
		{"negative redirects", Config{MaxRedirects: -1}, "redirects"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
