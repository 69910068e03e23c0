package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress is wrapped by the error of a connection refused because
// the address actually dialled (after DNS) is loopback, private, link-local
// or otherwise not a public unicast address, while
// Options.AllowPrivateNetworks is off.
var ErrPrivateAddress = errors.New("resolve: refusing to connect to a non-public address")

// dialTimeout bounds one TCP connection attempt.
const dialTimeout = 5 * time.Second

// reserved are the ranges refused besides those the netip predicates
// (loopback, RFC 1918 and RFC 4193 private, link-local, multicast,
// unspecified) cover.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network" (RFC 791)
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments (RFC 6890)
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking (RFC 2544)
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local (RFC 3879)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
}

// nat64 is the well-known NAT64 prefix (RFC 6052): its addresses reach the
// IPv4 address in their last 32 bits, which is checked instead.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// isPrivate reports whether ip is not a public unicast address.
func isPrivate(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return true
		}
	}
	if nat64.Contains(ip) {
		b := ip.As16()
		return isPrivate(netip.AddrFrom4([4]byte(b[12:])))
	}
	return false
}

// checkAddress refuses a non-public "ip:port". An address that does not
// parse is refused too (fail closed).
func checkAddress(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot tell whether %q is public", ErrPrivateAddress, address)
	}
	if isPrivate(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	return nil
}

// refusePrivate is a net.Dialer ControlContext: it runs on each socket
// just before it connects, with the IP address actually dialled.
func refusePrivate(_ context.Context, _, address string, _ syscall.RawConn) error {
	return checkAddress(address)
}

// dialer returns the DialContext for all the resolver's connections.
// Unless allowPrivate, non-public addresses are refused: in the socket's
// ControlContext, or, with an Options.Dial hook, on the connection's
// remote address after the hook returns.
func (r *Resolver) dialer(allowPrivate bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}}
	if !allowPrivate {
		d.ControlContext = refusePrivate
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if r.dial != nil {
			conn, err := r.dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if !allowPrivate {
				if err := checkAddress(conn.RemoteAddr().String()); err != nil {
					_ = conn.Close()
					return nil, fmt.Errorf("resolve: dialling %s: %w", addr, err)
				}
			}
			return conn, nil
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || r.lookupIP == nil {
			return d.DialContext(ctx, network, addr) // the net.Dialer resolves (and reports a bad addr)
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return d.DialContext(ctx, network, addr)
		}
		ips, err := r.lookupIP(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolve: looking up %s: %w", host, err)
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("resolve: no address for %s", host)
		}
		var errs []error
		for _, ip := range ips {
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		return nil, errors.Join(errs...)
	}
}
