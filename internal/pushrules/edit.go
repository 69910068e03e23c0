package pushrules

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AccountDataType is the global account data a user's rules are kept in and
// /sync delivers (spec: "Push Rules: Events").
const AccountDataType = "m.push_rules"

// Errors of the edits; the push rules API maps them to Matrix errors.
var (
	// ErrNotFound: no rule of that kind with that ID.
	ErrNotFound = errors.New("push rule not found")
	// ErrInvalid wraps every refusal of a malformed rule or rule ID.
	ErrInvalid = errors.New("invalid push rule")
	// ErrBeforeAfter: the before/after rule is not a user rule of the kind.
	ErrBeforeAfter = errors.New("before/after rule not found")
)

// accountData is the content of the m.push_rules account data.
type accountData struct {
	Global *Ruleset `json:"global"`
}

// ParseAccountData reads m.push_rules content; nil or empty content is no
// stored rules (nil ruleset).
func ParseAccountData(content json.RawMessage) (*Ruleset, error) {
	if len(content) == 0 {
		return nil, nil
	}
	var ad accountData
	if err := json.Unmarshal(content, &ad); err != nil {
		return nil, fmt.Errorf("pushrules: reading m.push_rules: %w", err)
	}
	return ad.Global, nil
}

// AccountData encodes rs as m.push_rules content.
func AccountData(rs *Ruleset) (json.RawMessage, error) {
	b, err := json.Marshal(accountData{Global: rs})
	if err != nil {
		return nil, fmt.Errorf("pushrules: encoding m.push_rules: %w", err)
	}
	return b, nil
}

// Normalize gives a user's effective rules from their stored ones (nil:
// none): the current server-default rules in the spec's order, each with
// the enabled flag and actions the user stored for it, and the user's own
// rules in their stored order — before the defaults of their kind, except
// that .m.rule.master stays first (spec: "Predefined Rules"). A stored
// default rule the spec no longer defines is dropped.
func Normalize(stored *Ruleset, userID string) *Ruleset {
	out := Defaults(userID)
	if stored == nil {
		return out
	}
	for _, k := range Kinds {
		defaults, own := out.Rules(k), *stored.Rules(k)
		var user []Rule
		for _, r := range own {
			if IsServerDefault(r.RuleID) {
				applyStoredDefault(*defaults, r)
				continue
			}
			user = append(user, userRule(k, r))
		}
		at := 0
		if k == KindOverride {
			at = 1 // after .m.rule.master
		}
		*defaults = slices.Insert(*defaults, at, user...)
	}
	return out
}

// applyStoredDefault copies what a user may change of a server-default rule.
func applyStoredDefault(defaults []Rule, stored Rule) {
	for i := range defaults {
		if defaults[i].RuleID == stored.RuleID {
			defaults[i].Enabled = stored.Enabled
			if stored.Actions != nil {
				defaults[i].Actions = stored.Actions
			}
			return
		}
	}
}

// userRule shapes a user rule for its kind: conditions only for override
// and underride, a pattern only for content.
func userRule(k Kind, r Rule) Rule {
	r.Default = false
	if r.Actions == nil {
		r.Actions = []Action{}
	}
	if k == KindOverride || k == KindUnderride {
		if r.Conditions == nil {
			r.Conditions = []Condition{}
		}
	} else {
		r.Conditions = nil
	}
	if k != KindContent {
		r.Pattern = nil
	}
	return r
}

// Find returns the rule of kind k with ruleID.
func (rs *Ruleset) Find(k Kind, ruleID string) (*Rule, error) {
	rules := rs.Rules(k)
	if rules == nil {
		return nil, ErrNotFound
	}
	for i := range *rules {
		if (*rules)[i].RuleID == ruleID {
			return &(*rules)[i], nil
		}
	}
	return nil, ErrNotFound
}

// SetEnabled enables or disables a rule, server-default ones included.
func (rs *Ruleset) SetEnabled(k Kind, ruleID string, enabled bool) error {
	r, err := rs.Find(k, ruleID)
	if err != nil {
		return err
	}
	r.Enabled = enabled
	return nil
}

// SetActions replaces a rule's actions, server-default ones included.
func (rs *Ruleset) SetActions(k Kind, ruleID string, actions []Action) error {
	if err := ValidateActions(actions); err != nil {
		return err
	}
	r, err := rs.Find(k, ruleID)
	if err != nil {
		return err
	}
	r.Actions = actions
	return nil
}

// Delete removes a user rule; server-default rules cannot be removed.
func (rs *Ruleset) Delete(k Kind, ruleID string) error {
	if IsServerDefault(ruleID) {
		return fmt.Errorf("%w: server-default rules cannot be deleted", ErrInvalid)
	}
	rules := rs.Rules(k)
	if rules == nil {
		return ErrNotFound
	}
	i := slices.IndexFunc(*rules, func(r Rule) bool { return r.RuleID == ruleID })
	if i < 0 {
		return ErrNotFound
	}
	*rules = slices.Delete(*rules, i, i+1)
	return nil
}

// ValidateRuleID checks the ID of a rule a user creates (pushrules.yaml:
// not starting with a dot, no slashes or backslashes).
func ValidateRuleID(ruleID string) error {
	switch {
	case ruleID == "":
		return fmt.Errorf("%w: empty rule ID", ErrInvalid)
	case IsServerDefault(ruleID):
		return fmt.Errorf("%w: rule IDs starting with '.' are reserved for server-default rules", ErrInvalid)
	case strings.ContainsAny(ruleID, `/\`):
		return fmt.Errorf("%w: rule IDs cannot contain '/' or '\\'", ErrInvalid)
	}
	return nil
}

// ValidateActions refuses actions the spec does not define. The historical
// dont_notify and coalesce are accepted (and mean nothing).
func ValidateActions(actions []Action) error {
	for _, a := range actions {
		switch {
		case a.Raw != nil:
			return fmt.Errorf("%w: unknown action %s", ErrInvalid, a.Raw)
		case a.Name == ActionSetTweak && a.Tweak == "":
			return fmt.Errorf("%w: set_tweak without a tweak name", ErrInvalid)
		case a.Name != ActionNotify && a.Name != ActionSetTweak && a.Name != ActionDontNotify && a.Name != ActionCoalesce:
			return fmt.Errorf("%w: unknown action %q", ErrInvalid, a.Name)
		}
	}
	return nil
}

// Put adds the user rule r of kind k, or updates the one with its ID
// (pushrules.yaml, setPushRule). A new rule is enabled and, without before
// or after, becomes the most important user rule of its kind; an updated
// one keeps its enabled flag and, without before or after, its place.
// before wins over after; either must name a user rule of the same kind.
func (rs *Ruleset) Put(k Kind, r Rule, before, after string) error {
	rules := rs.Rules(k)
	if rules == nil {
		return fmt.Errorf("%w: unknown kind %q", ErrInvalid, k)
	}
	if err := validateRule(k, r); err != nil {
		return err
	}
	r = userRule(k, r)
	r.Enabled = true
	anchor := before
	if anchor == "" {
		anchor = after
	}
	if anchor != "" && (anchor == r.RuleID || IsServerDefault(anchor) || !slices.ContainsFunc(*rules, idIs(anchor))) {
		return fmt.Errorf("%w: %s", ErrBeforeAfter, anchor)
	}
	if i := slices.IndexFunc(*rules, idIs(r.RuleID)); i >= 0 {
		r.Enabled = (*rules)[i].Enabled
		if anchor == "" {
			(*rules)[i] = r
			return nil
		}
		*rules = slices.Delete(*rules, i, i+1)
	}
	at := 0
	switch {
	case before != "":
		at = slices.IndexFunc(*rules, idIs(before))
	case after != "":
		at = slices.IndexFunc(*rules, idIs(after)) + 1
	case k == KindOverride && len(*rules) > 0 && (*rules)[0].RuleID == RuleMaster:
		at = 1
	}
	*rules = slices.Insert(*rules, at, r)
	return nil
}

func idIs(id string) func(Rule) bool { return func(r Rule) bool { return r.RuleID == id } }

// validateRule checks a rule a user puts: its ID, its actions, a pattern
// for a content rule, and the parameters of the conditions the spec defines
// (unknown condition kinds are allowed: they never match).
func validateRule(k Kind, r Rule) error {
	if err := ValidateRuleID(r.RuleID); err != nil {
		return err
	}
	if err := ValidateActions(r.Actions); err != nil {
		return err
	}
	if k == KindContent && r.Pattern == nil {
		return fmt.Errorf("%w: content rules need a pattern", ErrInvalid)
	}
	if k != KindOverride && k != KindUnderride {
		return nil
	}
	for _, c := range r.Conditions {
		if err := validateCondition(c); err != nil {
			return err
		}
	}
	return nil
}

func validateCondition(c Condition) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s condition %s", ErrInvalid, c.Kind, what) }
	switch c.Kind {
	case "":
		return fmt.Errorf("%w: condition without a kind", ErrInvalid)
	case EventMatch:
		if c.Key == "" || c.Pattern == nil {
			return bad("needs key and pattern")
		}
	case EventPropertyIs, EventPropertyContains:
		if _, ok := parseScalar(c.Value); c.Key == "" || !ok {
			return bad("needs key and a string, integer, boolean or null value")
		}
	case RoomMemberCount:
		if _, _, ok := parseMemberCount(c.Is); !ok {
			return bad("needs is: an integer optionally prefixed by ==, <, >, <= or >=")
		}
	case SenderNotificationPermission:
		if c.Key == "" {
			return bad("needs key")
		}
	}
	return nil
}
