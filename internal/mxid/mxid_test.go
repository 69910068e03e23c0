package mxid

import (
	"errors"
	"strings"
	"testing"
)

// okCase is an identifier and whether it is well formed.
type okCase struct {
	id string
	ok bool
}

// checkAll runs validate on each case: nil for the well-formed ones, an
// error wrapping ErrInvalid for the others.
func checkAll(t *testing.T, validate func(string) error, cases []okCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			err := validate(tc.id)
			if (err == nil) != tc.ok {
				t.Fatalf("%q: %v, want ok=%v", tc.id, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

// long returns an identifier of exactly n bytes: sigil, filler,
// ":example.org".
func long(sigil string, n int) string {
	return sigil + strings.Repeat("a", n-len(sigil)-len(":example.org")) + ":example.org"
}

func TestValidateServerName(t *testing.T) {
	checkAll(t, ValidateServerName, []okCase{
		// The appendix's examples.
		{"matrix.org", true},
		{"matrix.org:8888", true},
		{"1.2.3.4", true},
		{"1.2.3.4:1234", true},
		{"[1234:5678::abcd]", true},
		{"[1234:5678::abcd]:5678", true},
		// More of the grammar.
		{"localhost", true},
		{"MATRIX.ORG", true},
		{"my-host.example.com", true},
		{"[::1]", true},
		{"[::1]:8448", true},
		{"[::ffff:1.2.3.4]:443", true},
		{"[2001:DB8::1]", true},
		{"example.com:1", true},
		{"example.com:65535", true},
		{"1.2.3", true},       // not an IPv4 literal: a DNS name of digits
		{"a..b", true},        // RFC 1123's label rules are only recommended
		{"-a.example", true},  // (same)
		{"127.0.0.1:1", true}, // reachable or not, well formed
		{strings.Repeat("a", 250) + ":8448", true},
		{strings.Repeat("a", 255), true},

		{"", false},
		{"bad server!", false},
		{"bad server", false},
		{"a\x00b", false},
		{"a_b.example.com", false},
		{"exämple.com", false},
		{"a/b", false},
		{"@example.com", false},
		{strings.Repeat("a", 256), false},
		{strings.Repeat("a", 300), false},
		{"example.com:", false},
		{"example.com:0", false},
		{"example.com:65536", false},
		{"example.com:123456", false},
		{"example.com:port", false},
		{"example.com:-1", false},
		{":8448", false},
		{"1.2.3.256", false},
		{"1.2.3.4:99999", false},
		{"::1", false},
		{"[::1", false},
		{"[::1]8448", false},
		{"[::1]:", false},
		{"[::1]]", false},
		{"[]", false},
		{"[example.com]", false},
		{"[1.2.3.4]", false},
		{"[::1%eth0]", false},
		{"[::g]", false},
	})
}

func TestParseUserID(t *testing.T) {
	tests := []struct {
		id            string
		local, server string // "" server: invalid
	}{
		{"@alice:example.org", "alice", "example.org"},
		{"@a.b_c=d-e/f+g:example.org", "a.b_c=d-e/f+g", "example.org"},
		{"@alice:example.org:8448", "alice", "example.org:8448"},
		{"@alice:[::1]:8448", "alice", "[::1]:8448"},
		{"@alice:1.2.3.4", "alice", "1.2.3.4"},
		// Historical user IDs, which servers MUST accept: any code points
		// but ':' and NUL, control characters included, even none.
		{"@Alice:example.org", "Alice", "example.org"},
		{"@alice smith:example.org", "alice smith", "example.org"},
		{"@ünïcødé:example.org", "ünïcødé", "example.org"},
		{"@a\tb:example.org", "a\tb", "example.org"},
		{"@:example.org", "", "example.org"},
		{long("@", 255), strings.Repeat("a", 255-1-1-len("example.org")), "example.org"},

		{"", "", ""},
		{"alice:example.org", "", ""},
		{"#alice:example.org", "", ""},
		{"@alice", "", ""},
		{"@alice:", "", ""},
		{"@a\x00b:example.org", "", ""},
		{"@alice:exa\x00mple.org", "", ""},
		{"@a\xffb:example.org", "", ""},
		{"@\xed\xa0\x80:example.org", "", ""}, // a UTF-16 surrogate, encoded
		{"@alice:bad server!", "", ""},
		{"@alice:example.org:", "", ""},
		{"@alice:example.org:0", "", ""},
		{long("@", 256), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			local, server, err := ParseUserID(tc.id)
			if tc.server == "" {
				if err == nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseUserID(%q) = %q, %q, %v; want an ErrInvalid", tc.id, local, server, err)
				}
				return
			}
			if err != nil || local != tc.local || server != tc.server {
				t.Fatalf("ParseUserID(%q) = %q, %q, %v; want %q, %q", tc.id, local, server, err, tc.local, tc.server)
			}
			if err := ValidateUserID(tc.id); err != nil {
				t.Fatalf("ValidateUserID(%q) = %v after ParseUserID accepted it", tc.id, err)
			}
		})
	}
}

func TestValidateLocalpart(t *testing.T) {
	checkAll(t, ValidateLocalpart, []okCase{
		{"alice", true},
		{"a.b_c=d-e/f+g", true},
		{"0123456789", true},
		{"_bridge", true}, // the grammar allows it; registration reserves it

		{"", false},
		{"Alice", false},
		{"alice smith", false},
		{"alice:x", false},
		{"a\x00b", false},
		{"ünïcødé", false},
		{"alice!", false},
		{"a@b", false},
	})
}

func TestValidateRoomID(t *testing.T) {
	checkAll(t, ValidateRoomID, []okCase{
		{"!opaque:example.org", true},
		{"!opaque:example.org:8448", true},
		{"!opaque:[1234:5678::abcd]:5678", true},
		{"!OpAqUe123:example.org", true},
		{"!ünï cødé:example.org", true}, // any code points but ':' and NUL
		// Room version 12: the create event's ID with '!' (URL-safe base64).
		{"!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM", true},
		{"!abc", true},
		{long("!", 255), true},

		{"", false},
		{"!", false},
		{"opaque:example.org", false},
		{"$opaque:example.org", false},
		{"!a\x00b:localhost", false},
		{"!a\x00b", false},
		{"!opaque:", false},
		{"!opaque:bad server!", false},
		{"!a b", false},
		{"!abc=", false}, // unpadded
		{"!a\xffb:example.org", false},
		{long("!", 256), false},
	})
}

func TestValidateEventID(t *testing.T) {
	checkAll(t, ValidateEventID, []okCase{
		{"$123456789abcdef:example.org", true},                 // room versions 1 and 2
		{"$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk", true}, // version 3: standard base64
		{"$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", true}, // version 4 on: URL-safe
		{"$+/-_", true},
		{"$nope", true},
		{long("$", 255), true},

		{"", false},
		{"$", false},
		{"acR1l0raoZnm60CBwAVgqbZqoO", false},
		{"!acR1l0raoZnm60CBwAVgqbZqoO", false},
		{"$a\x00b", false},
		{"$a\x00b:example.org", false},
		{"$abc=", false},
		{"$a b", false},
		{"$a.b", false},
		{"$abc:", false},
		{"$abc:bad server", false},
		{"$" + strings.Repeat("A", 255), false},
	})
}

func TestParseRoomAlias(t *testing.T) {
	tests := []struct {
		alias         string
		local, server string // "" server: invalid
	}{
		{"#room:example.org", "room", "example.org"},
		{"#Room With Spaces:example.org:8448", "Room With Spaces", "example.org:8448"},
		{"#ünïcødé:[::1]", "ünïcødé", "[::1]"},
		{long("#", 255), strings.Repeat("a", 255-1-1-len("example.org")), "example.org"},

		{"", "", ""},
		{"room:example.org", "", ""},
		{"#room", "", ""},
		{"#:example.org", "", ""},
		{"#room:", "", ""},
		{"#ro\x00om:example.org", "", ""},
		{"#room:bad server!", "", ""},
		{"#r\xffm:example.org", "", ""},
		{long("#", 256), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.alias, func(t *testing.T) {
			local, server, err := ParseRoomAlias(tc.alias)
			if tc.server == "" {
				if err == nil || ValidateRoomAlias(tc.alias) == nil {
					t.Fatalf("ParseRoomAlias(%q) = %q, %q; want an error", tc.alias, local, server)
				}
				return
			}
			if err != nil || local != tc.local || server != tc.server {
				t.Fatalf("ParseRoomAlias(%q) = %q, %q, %v; want %q, %q", tc.alias, local, server, err, tc.local, tc.server)
			}
		})
	}
}

// TestErrorSaysWhy checks that a refusal names the identifier, its kind and
// the reason, which handlers pass on to clients.
func TestErrorSaysWhy(t *testing.T) {
	err := ValidateUserID("@alice:bad server")
	var e *Error
	if !errors.As(err, &e) || e.Kind != "user ID" || e.ID != "@alice:bad server" || !strings.HasPrefix(e.Reason, "server name: ") {
		t.Fatalf("ValidateUserID error = %#v", err)
	}
	if want := `invalid user ID "@alice:bad server": server name: `; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("message %q, want it to start with %q", err.Error(), want)
	}
}

func TestValidateOpaqueID(t *testing.T) {
	checkAll(t, func(id string) error { return ValidateOpaqueID(id, "registration token", 64) }, []okCase{
		{"fBVFdqVE", true},
		{"a-._~Z09", true},
		{strings.Repeat("a", 64), true},

		{"", false},
		{strings.Repeat("a", 65), false},
		{"a b", false},
		{"a\x00b", false},
		{"a/b", false},
		{"a+b", false},
		{"ü", false},
	})
}
