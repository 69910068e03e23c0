package preview

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// nonPublic are the ranges refused by default: everything that is not a
// public unicast address on the Internet. IPv4-mapped IPv6 addresses
// (::ffff:0:0/96) are checked as the IPv4 address they map to.
var nonPublic = mustPrefixes(
	// IPv4
	"0.0.0.0/8",       // "this network" (RFC 791); 0.0.0.0 reaches the local host
	"10.0.0.0/8",      // private (RFC 1918)
	"100.64.0.0/10",   // carrier-grade NAT (RFC 6598)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, where cloud metadata services live (RFC 3927)
	"172.16.0.0/12",   // private (RFC 1918)
	"192.0.0.0/24",    // IETF protocol assignments (RFC 6890)
	"192.0.2.0/24",    // documentation TEST-NET-1 (RFC 5737)
	"192.88.99.0/24",  // former 6to4 relay anycast (RFC 7526)
	"192.168.0.0/16",  // private (RFC 1918)
	"198.18.0.0/15",   // benchmarking (RFC 2544)
	"198.51.100.0/24", // documentation TEST-NET-2 (RFC 5737)
	"203.0.113.0/24",  // documentation TEST-NET-3 (RFC 5737)
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, and the broadcast address
	// IPv6
	"::/96",           // unspecified, loopback, deprecated IPv4-compatible (RFC 4291)
	"::ffff:0:0:0/96", // IPv4-translated (RFC 2765)
	"64:ff9b:1::/48",  // local-use NAT64 (RFC 8215)
	"100::/64",        // discard-only (RFC 6666)
	"2001:2::/48",     // benchmarking (RFC 5180)
	"2001:10::/28",    // deprecated ORCHID (RFC 4843)
	"2001:db8::/32",   // documentation (RFC 3849)
	"3fff::/20",       // documentation (RFC 9637)
	"fc00::/7",        // unique local (RFC 4193)
	"fe80::/10",       // link-local
	"fec0::/10",       // deprecated site-local (RFC 3879)
	"ff00::/8",        // multicast
)

// IPv6 ranges whose addresses carry the IPv4 address their traffic ends
// up at; such an address is judged as that IPv4 address.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // last 32 bits (RFC 6052)
	sixToFour = netip.MustParsePrefix("2002::/16")    // bits 16 to 48 (RFC 3056)
)

// mustPrefixes parses the package's own CIDR literals.
func mustPrefixes(cidrs ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = netip.MustParsePrefix(c)
	}
	return out
}

// addressPolicy decides which IP addresses the fetcher may connect to.
//
// Precedence, as Synapse's url_preview_ip_range_whitelist and
// url_preview_ip_range_blacklist: an address in the whitelist is allowed,
// else one in the blacklist is refused, else it is allowed only if it is
// public (not in nonPublic). The unspecified addresses (0.0.0.0, ::) are
// refused even when whitelisted: dialling them reaches the local host
// under another name.
type addressPolicy struct {
	whitelist []netip.Prefix
	blacklist []netip.Prefix
}

// newAddressPolicy parses the configured ranges; section names the
// setting in errors.
func newAddressPolicy(whitelist, blacklist []string) (addressPolicy, error) {
	w, err := parseRanges("ip_range_whitelist", whitelist)
	if err != nil {
		return addressPolicy{}, err
	}
	b, err := parseRanges("ip_range_blacklist", blacklist)
	if err != nil {
		return addressPolicy{}, err
	}
	return addressPolicy{whitelist: w, blacklist: b}, nil
}

// parseRanges reads CIDRs ("10.0.0.0/8", "fd00::/8") and single addresses
// ("192.0.2.7", taken as /32 or /128). IPv4-mapped IPv6 ranges
// ("::ffff:10.0.0.0/104") become the IPv4 range they map, since addresses
// are compared unmapped.
func parseRanges(setting string, ranges []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ranges))
	for _, r := range ranges {
		p, err := parseRange(strings.TrimSpace(r))
		if err != nil {
			return nil, fmt.Errorf("preview: %s: %q is not an IP range (want a CIDR such as 10.0.0.0/8 or an address)", setting, r)
		}
		out = append(out, p)
	}
	return out, nil
}

// parseRange reads one CIDR or address as a masked prefix.
func parseRange(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil || a.Zone() != "" {
			return netip.Prefix{}, err
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// permits reports whether the fetcher may connect to ip.
func (p addressPolicy) permits(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	switch {
	case ip.IsUnspecified():
		return false
	case containsAny(p.whitelist, ip):
		return true
	case containsAny(p.blacklist, ip):
		return false
	}
	if v4, ok := embeddedIPv4(ip); ok {
		return p.permits(v4)
	}
	return !containsAny(nonPublic, ip)
}

// embeddedIPv4 returns the IPv4 address a NAT64 or 6to4 address leads to.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// containsAny reports whether one of ranges holds ip.
func containsAny(ranges []netip.Prefix, ip netip.Addr) bool {
	for _, r := range ranges {
		if r.Contains(ip) {
			return true
		}
	}
	return false
}

// control is the net.Dialer ControlContext: it runs on each socket just
// before it connects, with the address actually dialled ("ip:port", after
// DNS), and refuses what the policy does not permit. An address that does
// not parse is refused too (fail closed).
func (p addressPolicy) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !p.permits(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	return nil
}
