// Package api is the application service contract (spec: "Application
// Service API", "Registration"): what a registration file holds and the
// questions other components ask about the registered application services
// (who owns a user ID or an alias, which service an as_token belongs to).
package api

import (
	"regexp"
	"strings"
)

// Registration is one application service's registration file (spec:
// application-service/definitions/registration.yaml).
type Registration struct {
	// ID uniquely names the application service.
	ID string `yaml:"id"`
	// URL is where the homeserver pushes transactions; nil (or absent)
	// means the service receives nothing.
	URL *string `yaml:"url"`
	// ASToken is the token the service authenticates with to the homeserver.
	ASToken string `yaml:"as_token"`
	// HSToken is the token the homeserver authenticates with to the service.
	HSToken string `yaml:"hs_token"`
	// SenderLocalpart is the localpart of the service's own user.
	SenderLocalpart string     `yaml:"sender_localpart"`
	Namespaces      Namespaces `yaml:"namespaces"`
	// RateLimited subjects the service's requests to rate limits (nil:
	// true, the spec's default).
	RateLimited *bool `yaml:"rate_limited"`
	// Protocols are the third-party protocols the service bridges.
	Protocols []string `yaml:"protocols"`
	// ReceiveEphemeral, PushEphemeral and the MSC2409 key ask for
	// ephemeral events (typing, receipts, presence) in transactions.
	ReceiveEphemeral      bool `yaml:"receive_ephemeral"`
	PushEphemeral         bool `yaml:"push_ephemeral"`
	MSC2409PushEphemeral  bool `yaml:"de.sorunome.msc2409.push_ephemeral"`
	MSC3202EncryptedState bool `yaml:"org.matrix.msc3202"`
	// MSC4190 marks a service that manages its users' devices itself
	// (io.element.msc4190): it may not log in as them, and registering a
	// user gives it no access token.
	MSC4190 bool `yaml:"io.element.msc4190"`
}

// Namespaces are the user IDs, room aliases and room IDs a service is
// interested in.
type Namespaces struct {
	Users   []Namespace `yaml:"users"`
	Aliases []Namespace `yaml:"aliases"`
	Rooms   []Namespace `yaml:"rooms"`
}

// Namespace is one regular expression, exclusive or not.
type Namespace struct {
	Exclusive bool   `yaml:"exclusive"`
	Regex     string `yaml:"regex"`
	// re is Regex compiled by Compile, anchored at the start.
	re *regexp.Regexp
}

// Compile compiles the namespace's regex. A regex matches an ID from its
// first character and need not reach its end, as Synapse matches them
// (re.match), so "@_irc_" covers "@_irc_alice:example.org".
func (n *Namespace) Compile() error {
	re, err := regexp.Compile(`^(?:` + n.Regex + `)`)
	if err != nil {
		return err
	}
	n.re = re
	return nil
}

// Matches reports whether id is in the namespace (false before Compile).
func (n *Namespace) Matches(id string) bool { return n.re != nil && n.re.MatchString(id) }

// Compile compiles every namespace of r, returning the first error.
func (r *Registration) Compile() error {
	for _, list := range []([]Namespace){r.Namespaces.Users, r.Namespaces.Aliases, r.Namespaces.Rooms} {
		for i := range list {
			if err := list[i].Compile(); err != nil {
				return err
			}
		}
	}
	return nil
}

// SenderUserID is the service's own user on serverName.
func (r *Registration) SenderUserID(serverName string) string {
	return "@" + r.SenderLocalpart + ":" + serverName
}

// IsRateLimited reports whether the service's requests are rate limited.
func (r *Registration) IsRateLimited() bool { return r.RateLimited == nil || *r.RateLimited }

// OwnsUser reports whether userID is the service's sender or in one of its
// user namespaces, exclusive or not (spec: "Identity assertion").
func (r *Registration) OwnsUser(userID, serverName string) bool {
	return userID == r.SenderUserID(serverName) || matchAny(r.Namespaces.Users, userID, false)
}

// OwnsAlias reports whether alias is in one of the service's alias namespaces.
func (r *Registration) OwnsAlias(alias string) bool {
	return matchAny(r.Namespaces.Aliases, alias, false)
}

// ExclusiveUser reports whether userID is in an exclusive user namespace of r.
func (r *Registration) ExclusiveUser(userID string) bool {
	return matchAny(r.Namespaces.Users, userID, true)
}

// ExclusiveAlias reports whether alias is in an exclusive alias namespace of r.
func (r *Registration) ExclusiveAlias(alias string) bool {
	return matchAny(r.Namespaces.Aliases, alias, true)
}

func matchAny(list []Namespace, id string, exclusiveOnly bool) bool {
	for i := range list {
		if (list[i].Exclusive || !exclusiveOnly) && list[i].Matches(id) {
			return true
		}
	}
	return false
}

// Registry holds every registered application service of a server.
type Registry struct {
	serverName string
	list       []*Registration
	byToken    map[string]*Registration
}

// NewRegistry indexes compiled, validated registrations.
func NewRegistry(serverName string, regs []*Registration) *Registry {
	r := &Registry{serverName: serverName, list: regs, byToken: make(map[string]*Registration, len(regs))}
	for _, reg := range regs {
		r.byToken[reg.ASToken] = reg
	}
	return r
}

// ServerName is the server the registry's services belong to.
func (r *Registry) ServerName() string { return r.serverName }

// All returns every registration, in load order.
func (r *Registry) All() []*Registration {
	if r == nil {
		return nil
	}
	return r.list
}

// ByToken returns the service whose as_token is token, or nil. A nil
// registry has none.
func (r *Registry) ByToken(token string) *Registration {
	if r == nil || token == "" {
		return nil
	}
	return r.byToken[token]
}

// ByID returns the service called id, or nil.
func (r *Registry) ByID(id string) *Registration {
	for _, reg := range r.All() {
		if reg.ID == id {
			return reg
		}
	}
	return nil
}

// ExclusiveUserOwner returns the service holding userID in an exclusive
// namespace, or nil.
func (r *Registry) ExclusiveUserOwner(userID string) *Registration {
	for _, reg := range r.All() {
		if reg.ExclusiveUser(userID) {
			return reg
		}
	}
	return nil
}

// ExclusiveAliasOwner returns the service holding alias in an exclusive
// namespace, or nil.
func (r *Registry) ExclusiveAliasOwner(alias string) *Registration {
	for _, reg := range r.All() {
		if reg.ExclusiveAlias(alias) {
			return reg
		}
	}
	return nil
}

// Localpart returns the localpart of userID when it is a user of this
// server, and "" otherwise.
func (r *Registry) Localpart(userID string) string {
	rest, ok := strings.CutPrefix(userID, "@")
	if !ok {
		return ""
	}
	local, server, ok := strings.Cut(rest, ":")
	if !ok || server != r.serverName {
		return ""
	}
	return local
}
