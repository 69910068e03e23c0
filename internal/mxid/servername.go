package mxid

import (
	"net/netip"
	"strconv"
	"strings"
)

// ValidateServerName checks a server name against the grammar of the
// appendix "Server Name":
//
//	server_name = hostname [ ":" port ]
//	port        = 1*5DIGIT
//	hostname    = IPv4address / "[" IPv6address "]" / dns-name
//	IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
//	IPv6address = 2*45IPv6char
//	IPv6char    = DIGIT / %x41-46 / %x61-66 / ":" / "."
//	dns-name    = 1*255dns-char
//	dns-char    = DIGIT / ALPHA / "-" / "."
//
// with what the prose adds as a MUST: IPv4 literals of four numbers from 0
// to 255 (four groups of digits are never taken for a DNS name), IPv6
// literals as RFC 3513 writes them. Ports are 1 to 65535, the only ones a
// server can be reached at, and the whole name is at most MaxLength bytes,
// as it could not fit in any identifier otherwise. DNS names are not held
// to the label rules of RFC 1123, which the spec only recommends.
func ValidateServerName(name string) error {
	invalid := func(reason string) error { return &Error{Kind: "server name", ID: name, Reason: reason} }
	if len(name) > MaxLength {
		return invalid("longer than 255 bytes")
	}
	host, port, hasPort := splitHostPort(name)
	if hasPort && !validPort(port) {
		return invalid("the port must be a number from 1 to 65535")
	}
	if reason := hostProblem(host); reason != "" {
		return invalid(reason)
	}
	return nil
}

// splitHostPort splits at the port's ':', which for an IPv6 literal is the
// one after the closing bracket.
func splitHostPort(name string) (host, port string, hasPort bool) {
	if strings.HasPrefix(name, "[") {
		if end := strings.IndexByte(name, ']'); end >= 0 {
			if rest, ok := strings.CutPrefix(name[end+1:], ":"); ok {
				return name[:end+1], rest, true
			}
		}
		return name, "", false
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		return name[:i], name[i+1:], true
	}
	return name, "", false
}

func validPort(p string) bool {
	if len(p) < 1 || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
		return false
	}
	n, _ := strconv.Atoi(p) // at most five digits: cannot fail
	return n >= 1 && n <= 65535
}

// hostProblem says what is wrong with a hostname, "" when nothing is.
func hostProblem(host string) string {
	if host == "" {
		return "empty hostname"
	}
	if strings.HasPrefix(host, "[") {
		return ipv6Problem(host)
	}
	for i := 0; i < len(host); i++ {
		if !isDNSChar(host[i]) {
			return "a hostname holds only letters, digits, '-' and '.'"
		}
	}
	if isIPv4, ok := checkIPv4(host); isIPv4 && !ok {
		return "the numbers of an IPv4 address are 0 to 255"
	}
	return ""
}

func isDNSChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '.'
}

// ipv6Problem checks "[" IPv6address "]".
func ipv6Problem(host string) string {
	addr, ok := strings.CutSuffix(host[1:], "]")
	if !ok || strings.IndexByte(addr, ']') >= 0 {
		return "an IPv6 literal is written [address]"
	}
	ip, err := netip.ParseAddr(addr)
	if len(addr) < 2 || len(addr) > 45 || strings.Trim(addr, "0123456789abcdefABCDEF:.") != "" || err != nil || !ip.Is6() {
		return "not an IPv6 address"
	}
	return ""
}

// checkIPv4 reports whether h has the grammar's IPv4address form (four
// dot-separated groups of one to three digits) and, if so, whether every
// number is at most 255.
func checkIPv4(h string) (isIPv4, ok bool) {
	parts := strings.Split(h, ".")
	if len(parts) != 4 {
		return false, false
	}
	ok = true
	for _, p := range parts {
		if len(p) < 1 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false, false
		}
		if n, _ := strconv.Atoi(p); n > 255 {
			ok = false
		}
	}
	return true, ok
}
