package config

import "strings"

// AppServices lists the application services (bridges) registered with the
// server (spec: "Application Service API", "Registration"). The files are
// read and checked when the server starts (appservice.LoadFiles): a bad one
// stops it, with every problem of every file listed.
type AppServices struct {
	// RegistrationFiles are paths of registration files (YAML), one per
	// application service.
	RegistrationFiles []string `yaml:"registration_files"`
}

// Defaults makes an empty list nil ("registration_files: []" and none are
// the same).
func (a *AppServices) Defaults() {
	if len(a.RegistrationFiles) == 0 {
		a.RegistrationFiles = nil
	}
}

// Verify records the problems of a in errs: what the files hold is checked
// when they are loaded.
func (a *AppServices) Verify(errs *Errors) {
	seen := map[string]bool{}
	for _, p := range a.RegistrationFiles {
		if strings.TrimSpace(p) == "" {
			errs.Add("app_services.registration_files", "a path must not be empty")
			continue
		}
		if seen[p] {
			errs.Add("app_services.registration_files", "%q is listed twice", p)
		}
		seen[p] = true
	}
}

// listValue is a repeatable flag: each use appends a value, kept as a
// comma-separated list.
type listValue struct{ s *string }

func (l listValue) String() string {
	if l.s == nil {
		return ""
	}
	return *l.s
}

func (l listValue) Set(v string) error {
	if *l.s != "" {
		*l.s += ","
	}
	*l.s += v
	return nil
}

func init() {
	docs["app_services"] = "Application services: bridges to other chat networks and bots acting for " +
		"many users. Each has a registration file (id, url, as_token, hs_token, sender_localpart, " +
		"namespaces) checked when the server starts; a bad file stops it with every problem listed."
	docs["app_services.registration_files"] = "Paths of the registration files (YAML), one per " +
		"application service. The flag may be repeated; the environment variable takes a " +
		"comma-separated list. Either replaces the list in this file."
}
