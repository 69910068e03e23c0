package internal

import (
	"context"
	"encoding/json"
	"net"
	"path"
	"strings"
)

// ServerAllowed implements api.Federation: whether the room's server ACL
// (spec: m.room.server_acl) lets server take part in the room. A room
// without an ACL allows every server; an unknown room answers true (there is
// nothing to protect).
func (rs *Roomserver) ServerAllowed(ctx context.Context, roomID, server string) bool {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return true
	}
	r.mu.Lock()
	ev, _ := r.get("m.room.server_acl", "")
	r.mu.Unlock()
	if ev == nil {
		return true
	}
	var acl struct {
		Allow           []string `json:"allow"`
		Deny            []string `json:"deny"`
		AllowIPLiterals *bool    `json:"allow_ip_literals"`
	}
	if err := json.Unmarshal(ev.Content(), &acl); err != nil {
		return true // an unreadable ACL is ignored, as by other servers
	}
	return aclAllows(acl.Allow, acl.Deny, acl.AllowIPLiterals == nil || *acl.AllowIPLiterals, server)
}

// aclAllows applies the spec's server ACL rules to a server name: the port
// is ignored; IP literals are denied unless allowed; deny wins over allow;
// a server must match an allow entry. Entries are globs with * and ?.
func aclAllows(allow, deny []string, ipLiterals bool, server string) bool {
	host := server
	if h, _, err := net.SplitHostPort(server); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	if !ipLiterals && (net.ParseIP(strings.Trim(host, "[]")) != nil) {
		return false
	}
	match := func(globs []string) bool {
		for _, g := range globs {
			// path.Match treats '/' specially and supports classes; server
			// names hold neither, and '[' in a glob is escaped.
			g = strings.ReplaceAll(strings.ToLower(g), "[", "\\[")
			if ok, err := path.Match(g, host); err == nil && ok {
				return true
			}
		}
		return false
	}
	if match(deny) {
		return false
	}
	return match(allow)
}
