package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ValidateServerName checks name against the Matrix server name grammar:
//
//	server_name = hostname [ ":" port ]
//	hostname    = IPv4address / "[" IPv6address "]" / dns-name
//
// It is stricter than the grammar where the specification asks for valid
// addresses: an IPv4 address must have four parts from 0 to 255, an IPv6
// address must parse, each DNS label must be 1 to 63 letters, digits or
// hyphens and may not start or end with a hyphen, and the port must be from 1
// to 65535.
func ValidateServerName(name string) error {
	if name == "" {
		return errors.New("empty")
	}
	host, port, hasPort := name, "", false
	if strings.HasPrefix(name, "[") {
		end := strings.IndexByte(name, ']')
		if end < 0 {
			return errors.New("IPv6 address lacks its closing ]")
		}
		host = name[1:end]
		if rest := name[end+1:]; rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return fmt.Errorf("unexpected %q after the IPv6 address", rest)
			}
			port, hasPort = p, true
		}
		if err := validateIPv6(host); err != nil {
			return err
		}
	} else {
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			host, port, hasPort = name[:i], name[i+1:], true
		}
		if strings.Contains(host, ":") {
			return errors.New("an IPv6 address must be written in brackets, as in [::1]:8448")
		}
		if err := validateHost(host); err != nil {
			return err
		}
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || !isDigits(port) || len(port) > 5 || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
	}
	return nil
}

// validateHost checks an IPv4 address or a DNS name.
func validateHost(host string) error {
	if host == "" {
		return errors.New("empty host name")
	}
	if strings.Trim(host, "0123456789.") == "" {
		// Only digits and dots: it can only mean an IPv4 address.
		parts := strings.Split(host, ".")
		if len(parts) != 4 {
			return fmt.Errorf("%q is not an IPv4 address (want four numbers separated by dots)", host)
		}
		for _, p := range parts {
			if n, err := strconv.Atoi(p); err != nil || len(p) > 3 || n > 255 {
				return fmt.Errorf("%q is not an IPv4 address (each part must be from 0 to 255)", host)
			}
		}
		return nil
	}
	if len(host) > 255 {
		return errors.New("host name longer than 255 characters")
	}
	for _, label := range strings.Split(host, ".") {
		switch {
		case label == "":
			return errors.New("host name has an empty label (leading, trailing or doubled dot)")
		case len(label) > 63:
			return fmt.Errorf("host name label %q is longer than 63 characters", label)
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("host name label %q starts or ends with a hyphen", label)
		}
		for _, r := range label {
			if !isLabelChar(r) {
				return fmt.Errorf("host name contains %q (allowed: letters, digits, hyphens and dots)", r)
			}
		}
	}
	return nil
}

// validateIPv6 checks the address between the brackets of an IPv6 literal.
func validateIPv6(addr string) error {
	if len(addr) < 2 || len(addr) > 45 || strings.Trim(addr, "0123456789abcdefABCDEF:.") != "" ||
		!strings.Contains(addr, ":") || net.ParseIP(addr) == nil {
		return fmt.Errorf("[%s] is not an IPv6 address", addr)
	}
	return nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// isLabelChar reports whether r may appear in a host name label: an ASCII
// letter, digit or hyphen.
func isLabelChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
}
