package config

import "time"

// DefaultRetentionPurgeInterval is how often the retention job runs.
const DefaultRetentionPurgeInterval = time.Hour

// Retention configures message retention (MSC1763, as Synapse implements
// it): rooms' m.room.retention policies, a server default for rooms
// without one, bounds on what rooms may ask, and the purge job that
// removes expired messages (docs/decisions.md, "Message retention").
type Retention struct {
	// Enabled honours retention policies and runs the purge job. Default
	// false: no message is ever purged by age.
	Enabled bool `yaml:"enabled"`
	// DefaultPolicy applies to rooms without an m.room.retention policy
	// (and to a policy's missing fields).
	DefaultPolicy RetentionPolicy `yaml:"default_policy"`
	// AllowedLifetimeMin and AllowedLifetimeMax clamp the max_lifetime a
	// room's policy asks for (0: no bound).
	AllowedLifetimeMin Duration `yaml:"allowed_lifetime_min"`
	AllowedLifetimeMax Duration `yaml:"allowed_lifetime_max"`
	// PurgeInterval is how often the purge job runs. Default 1h.
	PurgeInterval Duration `yaml:"purge_interval"`
}

// RetentionPolicy is a retention policy's lifetimes (0: none).
type RetentionPolicy struct {
	// MinLifetime is how long messages are kept at least.
	MinLifetime Duration `yaml:"min_lifetime"`
	// MaxLifetime is how long messages are kept at most.
	MaxLifetime Duration `yaml:"max_lifetime"`
}

// Defaults fills the zero fields of r.
func (r *Retention) Defaults() {
	setDefault(&r.PurgeInterval, Duration(DefaultRetentionPurgeInterval))
}

// Verify records the problems of r in errs.
func (r *Retention) Verify(errs *Errors) {
	p := r.DefaultPolicy
	if p.MinLifetime < 0 || p.MaxLifetime < 0 || r.AllowedLifetimeMin < 0 || r.AllowedLifetimeMax < 0 {
		errs.Add("retention", "lifetimes must not be negative")
	}
	if p.MinLifetime > 0 && p.MaxLifetime > 0 && p.MinLifetime > p.MaxLifetime {
		errs.Add("retention.default_policy", "min_lifetime (%s) must not exceed max_lifetime (%s)", p.MinLifetime, p.MaxLifetime)
	}
	if r.AllowedLifetimeMin > 0 && r.AllowedLifetimeMax > 0 && r.AllowedLifetimeMin > r.AllowedLifetimeMax {
		errs.Add("retention.allowed_lifetime_min", "must not exceed allowed_lifetime_max (%s > %s)",
			r.AllowedLifetimeMin, r.AllowedLifetimeMax)
	}
	if r.PurgeInterval <= 0 {
		errs.Add("retention.purge_interval", "must be more than 0 (got %s)", r.PurgeInterval)
	}
}

func init() {
	docs["retention"] = "Message retention (MSC1763): rooms' m.room.retention policies and a purge job " +
		"that removes messages older than a room's max_lifetime. Rooms under legal hold are never purged."
	docs["retention.enabled"] = "true honours retention policies and runs the purge job."
	docs["retention.default_policy"] = "The policy of rooms without an m.room.retention event (0s: none)."
	docs["retention.default_policy.min_lifetime"] = "How long messages are kept at least."
	docs["retention.default_policy.max_lifetime"] = "How long messages are kept at most; 0s keeps them for ever."
	docs["retention.allowed_lifetime_min"] = "Smallest max_lifetime a room's policy takes effect with " +
		"(a smaller one is raised to it); 0s: no bound."
	docs["retention.allowed_lifetime_max"] = "Largest max_lifetime a room's policy takes effect with " +
		"(a larger one is lowered to it); 0s: no bound."
	docs["retention.purge_interval"] = "How often the purge job runs."
}
