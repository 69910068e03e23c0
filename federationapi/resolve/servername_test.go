package resolve

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

func TestParseServerName(t *testing.T) {
	for _, tc := range []struct {
		in         string
		host, port string
		ip         bool
	}{
		{"matrix.org", "matrix.org", "", false},
		{"matrix.org:8888", "matrix.org", "8888", false},
		{"1.2.3.4", "1.2.3.4", "", true},
		{"1.2.3.4:1234", "1.2.3.4", "1234", true},
		{"[1234:5678::abcd]", "1234:5678::abcd", "", true},
		{"[1234:5678::abcd]:5678", "1234:5678::abcd", "5678", true},
		{"[::ffff:1.2.3.4]", "::ffff:1.2.3.4", "", true},
		{"001.002.003.004:08448", "1.2.3.4", "8448", true}, // decimal numbers, as the grammar allows
		{"1.2.3", "1.2.3", "", false},                      // not IPv4address: a dns-name
		{"localhost", "localhost", "", false},
		{"Example-1.COM.", "Example-1.COM.", "", false},
		{strings.Repeat("a", 255), strings.Repeat("a", 255), "", false},
	} {
		sn, err := parseServerName(tc.in)
		if err != nil {
			t.Errorf("parseServerName(%q): %v", tc.in, err)
			continue
		}
		if sn.host != tc.host || sn.port != tc.port || sn.ip.IsValid() != tc.ip {
			t.Errorf("parseServerName(%q) = %+v, want host %q port %q ip %v", tc.in, sn, tc.host, tc.port, tc.ip)
		}
	}
}

func TestInvalidServerNamesRejected(t *testing.T) {
	r := New(Options{
		LookupSRV: func(context.Context, string, string, string) (string, []*net.SRV, error) {
			t.Error("LookupSRV called for an invalid name")
			return "", nil, nil
		},
		Dial: func(context.Context, string, string) (net.Conn, error) {
			t.Error("Dial called for an invalid name")
			return nil, errors.New("no")
		},
	})
	for _, name := range []string{
		"",
		":8448",
		"matrix.org:",
		"matrix.org:0",
		"matrix.org:65536",
		"matrix.org:123456",
		"matrix.org:80a",
		"matrix.org:-1",
		"matrix.org:80:80",
		"mat rix.org",
		"matrix_org",
		"matrix.org/path",
		"user@matrix.org",
		"1.2.3.256",
		"1.2.3.4:99999",
		"::1",
		"[::1",
		"[::1]x",
		"[::1]:",
		"[1.2.3.4]",
		"[fe80::1%eth0]",
		"[::g]",
		"[]",
		strings.Repeat("a", 256),
		"ma\x00trix.org",
		"mätrix.org",
	} {
		targets, err := r.Resolve(context.Background(), spec.ServerName(name))
		if !errors.Is(err, ErrInvalidServerName) {
			t.Errorf("Resolve(%q) = %v, %v; want ErrInvalidServerName", name, targets, err)
		}
	}
}

func TestIsPrivate(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1":          true,
		"127.8.9.10":         true,
		"10.1.2.3":           true,
		"172.16.0.1":         true,
		"172.31.255.255":     true,
		"192.168.1.1":        true,
		"100.64.0.1":         true,
		"100.127.255.255":    true,
		"169.254.169.254":    true,
		"0.0.0.0":            true,
		"0.1.2.3":            true,
		"224.0.0.1":          true,
		"255.255.255.255":    true,
		"::1":                true,
		"::":                 true,
		"fc00::1":            true,
		"fd12:3456::1":       true,
		"fe80::1":            true,
		"fe80::1%eth0":       true,
		"ff02::1":            true,
		"::ffff:127.0.0.1":   true,
		"::ffff:10.0.0.1":    true,
		"64:ff9b::a00:1":     true, // NAT64 of 10.0.0.1
		"8.8.8.8":            false,
		"1.1.1.1":            false,
		"100.128.0.1":        false,
		"172.32.0.1":         false,
		"2001:4860::8888":    false,
		"::ffff:8.8.8.8":     false,
		"64:ff9b::808:808":   false, // NAT64 of 8.8.8.8
		"2606:4700::6810:1":  false,
		"192.0.2.1":          false, // documentation range: not reachable, not refused
		"203.0.113.9":        false,
		"2001:db8::1":        false,
		"198.51.100.200":     false,
		"11.0.0.1":           false,
		"169.253.255.255":    false,
		"fbff:ffff::1":       false,
		"fec0::1":            true,
		"64:ff9b:1::1":       true,
		"198.18.0.1":         true,
		"192.0.0.8":          true,
		"240.0.0.1":          true,
		"2002:c000:0204::1":  false,
		"2a00:1450:4001::64": false,
	} {
		if got := isPrivate(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isPrivate(%s) = %v, want %v", addr, got, want)
		}
	}
}
