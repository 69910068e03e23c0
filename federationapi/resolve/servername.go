package resolve

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrInvalidServerName is wrapped by the errors for server names (and
// delegated server names from a well-known answer) that do not follow the
// grammar of the spec's appendix "Server Name".
var ErrInvalidServerName = errors.New("resolve: invalid server name")

// serverName is a parsed server name. The grammar (Matrix spec v1.19,
// appendices, "Server Name") is:
//
//	server_name = hostname [ ":" port ]
//	port        = 1*5DIGIT
//	hostname    = IPv4address / "[" IPv6address "]" / dns-name
//	IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
//	IPv6address = 2*45IPv6char
//	IPv6char    = DIGIT / %x41-46 / %x61-66 / ":" / "."
//	dns-name    = 1*255dns-char
//	dns-char    = DIGIT / ALPHA / "-" / "."
type serverName struct {
	host string     // the DNS name, or the IP literal in canonical form (no brackets)
	ip   netip.Addr // valid when the hostname is an IP literal
	port string     // decimal port without leading zeros; "" when absent
}

// parseServerName checks s against the grammar. Beyond the grammar it
// rejects, as no address could be dialled for them: IPv4 literals with a
// number above 255 (the spec's prose requires 0 to 255; such a string is
// not taken for a DNS name), IPv6 literals that do not parse (the prose
// requires RFC 3513) or are IPv4 addresses, and ports 0 and above 65535.
func parseServerName(s string) (serverName, error) {
	var sn serverName
	host, rest := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return sn, invalidName(s, "unclosed '['")
		}
		host, rest = s[1:end], s[end+1:]
		ip, err := netip.ParseAddr(host)
		if len(host) < 2 || len(host) > 45 || strings.Trim(host, "0123456789abcdefABCDEF:.") != "" ||
			err != nil || !ip.Is6() {
			return sn, invalidName(s, "bad IPv6 literal")
		}
		sn.ip = ip
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, rest = s[:i], s[i:]
		}
		if host == "" || len(host) > 255 {
			return sn, invalidName(s, "hostname must be 1 to 255 characters")
		}
		for _, c := range []byte(host) {
			if !isDNSChar(c) {
				return sn, invalidName(s, fmt.Sprintf("character %q not allowed in a hostname", c))
			}
		}
		if ip, isIPv4, ok := parseIPv4(host); isIPv4 {
			if !ok {
				return sn, invalidName(s, "IPv4 literal numbers must be 0 to 255")
			}
			sn.ip = ip
		}
	}
	if rest != "" {
		p, ok := strings.CutPrefix(rest, ":")
		if !ok || len(p) < 1 || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
			return sn, invalidName(s, "bad port")
		}
		n, _ := strconv.Atoi(p) // at most five digits: cannot fail
		if n < 1 || n > 65535 {
			return sn, invalidName(s, "port must be 1 to 65535")
		}
		sn.port = strconv.Itoa(n)
	}
	sn.host = host
	if sn.ip.IsValid() {
		sn.host = sn.ip.String()
	}
	return sn, nil
}

func invalidName(s, why string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidServerName, s, why)
}

func isDNSChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '.'
}

// parseIPv4 reports whether h has the form of the grammar's IPv4address
// (four dot-separated groups of one to three digits) and, if so, whether
// every number is at most 255, with the address. Leading zeros are read as
// decimal, as the spec says the numbers are decimal.
func parseIPv4(h string) (ip netip.Addr, isIPv4, ok bool) {
	parts := strings.Split(h, ".")
	if len(parts) != 4 {
		return ip, false, false
	}
	var b [4]byte
	ok = true
	for i, p := range parts {
		if len(p) < 1 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return ip, false, false
		}
		n, _ := strconv.Atoi(p)
		if n > 255 {
			ok = false
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), true, ok
}

// addr is host:port to dial for sn, with port 8448 when sn has none.
func (sn serverName) addr() string {
	port := sn.port
	if port == "" {
		port = defaultPort
	}
	return net.JoinHostPort(sn.host, port)
}
