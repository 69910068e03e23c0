package config

import (
	"net/url"
	"strings"

	"github.com/myelin-im/myelin/internal/mxid"
)

// Support is served at /.well-known/matrix/support (spec: client-server
// API, "Server support discovery"): how to reach the server's admins.
// With neither contacts nor a support page it answers 404.
type Support struct {
	// Contacts are ways to reach the admins.
	Contacts []SupportContact `yaml:"contacts"`
	// SupportPage is a page of help for the server's users.
	SupportPage string `yaml:"support_page"`
}

// SupportContact is one way to reach the admins: a Matrix user, an email
// address or both, and what for.
type SupportContact struct {
	MatrixID     string `yaml:"matrix_id" json:"matrix_id,omitempty"`
	EmailAddress string `yaml:"email_address" json:"email_address,omitempty"`
	// Role is m.role.admin (anything), m.role.security (sensitive
	// reports) or a namespaced role of the operator's.
	Role string `yaml:"role" json:"role"`
}

// Defaults makes an empty contact list nil ("contacts: []" and none are
// the same).
func (s *Support) Defaults() {
	if len(s.Contacts) == 0 {
		s.Contacts = nil
	}
}

// Verify records the problems of s in errs.
func (s *Support) Verify(errs *Errors) {
	for _, c := range s.Contacts {
		if c.MatrixID == "" && c.EmailAddress == "" {
			errs.Add("support.contacts", "each contact needs a matrix_id or an email_address, or both")
		}
		if c.MatrixID != "" {
			if err := mxid.ValidateUserID(c.MatrixID); err != nil {
				errs.Add("support.contacts", "matrix_id must be a user ID: %v (got %q)", err, c.MatrixID)
			}
		}
		if c.EmailAddress != "" && !strings.Contains(c.EmailAddress, "@") {
			errs.Add("support.contacts", "email_address must be an email address (got %q)", c.EmailAddress)
		}
		if c.Role == "" {
			errs.Add("support.contacts", "each contact needs a role (m.role.admin, m.role.security or a namespaced one)")
		}
	}
	if s.SupportPage != "" {
		u, err := url.Parse(s.SupportPage)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.Add("support.support_page", "must be an absolute http(s) URL (got %q)", s.SupportPage)
		}
	}
}

// Empty reports whether nothing is configured (the endpoint answers 404).
func (s *Support) Empty() bool { return len(s.Contacts) == 0 && s.SupportPage == "" }

func init() {
	docs["support"] = "Served at /.well-known/matrix/support: how users reach the server's admins. " +
		"With no contacts and no support_page it answers 404. Contacts are listed as " +
		"{matrix_id: \"@admin:example.org\", email_address: \"admin@example.org\", role: m.role.admin}; " +
		"each needs a role and a matrix_id or an email_address."
	docs["support.contacts"] = "Ways to reach the admins; role is m.role.admin, m.role.security or a namespaced role."
	docs["support.support_page"] = "An http(s) page of help for the server's users."
}
