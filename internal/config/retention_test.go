package config

import (
	"strings"
	"testing"
	"time"
)

// TestRetentionVerify: each check of the retention section, reported with
// its key; a complete policy passes.
func TestRetentionVerify(t *testing.T) {
	h := Duration(time.Hour)
	tests := []struct {
		section string // the one problem expected, or "" for none
		change  func(r *Retention)
	}{
		{"", func(r *Retention) {
			*r = Retention{Enabled: true, DefaultPolicy: RetentionPolicy{MinLifetime: h, MaxLifetime: 24 * h},
				AllowedLifetimeMin: h, AllowedLifetimeMax: 48 * h, PurgeInterval: h}
		}},
		{"retention", func(r *Retention) { r.DefaultPolicy.MaxLifetime = -h }},
		{"retention.default_policy", func(r *Retention) { r.DefaultPolicy = RetentionPolicy{MinLifetime: 2 * h, MaxLifetime: h} }},
		{"retention.allowed_lifetime_min", func(r *Retention) { r.AllowedLifetimeMin, r.AllowedLifetimeMax = 2*h, h }},
		{"retention.purge_interval", func(r *Retention) { r.PurgeInterval = 0 }},
	}
	for _, tc := range tests {
		c := Default()
		tc.change(&c.Retention)
		err := c.Verify()
		if tc.section == "" {
			if err != nil {
				t.Errorf("unexpected problems: %v", err)
			}
			continue
		}
		got := problems(t, err)
		if len(got) != 1 || !strings.HasPrefix(got[0], tc.section+": ") {
			t.Errorf("problems %q, want one for %s", got, tc.section)
		}
	}
	if d := Default().Retention; d.Enabled || d.PurgeInterval != h {
		t.Errorf("defaults %+v: want retention off, purged hourly", d)
	}
}
