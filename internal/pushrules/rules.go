// Package pushrules is the push rules engine (spec v1.19, client-server API
// "Push Rules"): the rule types as they appear on the wire and in the
// m.push_rules account data, the server-default rule set, the edits the
// push rules API makes to a user's rules, and evaluation.
//
// Evaluation is built for many users per event: a user's rules are compiled
// once (Compile: glob patterns to matchers, property paths resolved to
// lookup keys, actions to their outcome), an event is parsed and flattened
// once (NewEvent), and each user's evaluation is then lookups and string
// comparisons:
//
//	ev, err := pushrules.NewEvent(clientJSON)
//	room := pushrules.Room{MemberCount: n, PowerLevels: pl}
//	for _, m := range members {
//		res := compiled[m].Evaluate(ev, &room, pushrules.User{ID: m.ID, DisplayName: m.Name})
//		if res.Notify { ... }
//	}
package pushrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Kind is one of the five kinds of push rule, in the order they are checked
// (spec: "Push Rules").
type Kind string

// The rule kinds.
const (
	KindOverride  Kind = "override"
	KindContent   Kind = "content"
	KindRoom      Kind = "room"
	KindSender    Kind = "sender"
	KindUnderride Kind = "underride"
)

// Kinds lists the kinds in priority order.
var Kinds = []Kind{KindOverride, KindContent, KindRoom, KindSender, KindUnderride}

// ValidKind reports whether k names a rule kind.
func ValidKind(k string) bool {
	for _, kind := range Kinds {
		if string(kind) == k {
			return true
		}
	}
	return false
}

// Ruleset is the global ruleset (spec: definitions/push_ruleset.yaml).
type Ruleset struct {
	Override  []Rule `json:"override"`
	Content   []Rule `json:"content"`
	Room      []Rule `json:"room"`
	Sender    []Rule `json:"sender"`
	Underride []Rule `json:"underride"`
}

// Rules returns a pointer to the rules of kind k (nil for an unknown kind).
func (rs *Ruleset) Rules(k Kind) *[]Rule {
	switch k {
	case KindOverride:
		return &rs.Override
	case KindContent:
		return &rs.Content
	case KindRoom:
		return &rs.Room
	case KindSender:
		return &rs.Sender
	case KindUnderride:
		return &rs.Underride
	}
	return nil
}

// Rule is one push rule (spec: definitions/push_rule.yaml).
type Rule struct {
	RuleID     string      `json:"rule_id"`
	Default    bool        `json:"default"`
	Enabled    bool        `json:"enabled"`
	Conditions []Condition `json:"conditions,omitempty"`
	Actions    []Action    `json:"actions"`
	// Pattern is only for content rules.
	Pattern *string `json:"pattern,omitempty"`
}

// MarshalJSON writes conditions when the rule has a condition list, even an
// empty one (override and underride rules: ".m.rule.master" has
// "conditions": []), and omits them when it has none (content, room and
// sender rules).
func (r Rule) MarshalJSON() ([]byte, error) {
	type plain Rule
	out := struct {
		plain
		Conditions *[]Condition `json:"conditions,omitempty"`
	}{plain: plain(r)}
	if r.Conditions != nil {
		out.Conditions = &r.Conditions
	}
	return json.Marshal(out)
}

// IsServerDefault reports whether a rule ID is reserved for server-default
// rules (spec: "The rule_id for all server-default rules MUST start with a
// dot").
func IsServerDefault(ruleID string) bool { return len(ruleID) > 0 && ruleID[0] == '.' }

// The condition kinds (spec: "Conditions").
const (
	EventMatch                   = "event_match"
	EventPropertyIs              = "event_property_is"
	EventPropertyContains        = "event_property_contains"
	ContainsDisplayName          = "contains_display_name"
	RoomMemberCount              = "room_member_count"
	SenderNotificationPermission = "sender_notification_permission"
)

// Condition is one condition of an override or underride rule (spec:
// definitions/push_condition.yaml). Unknown kinds are kept and never match.
type Condition struct {
	Kind    string  `json:"kind"`
	Key     string  `json:"key,omitempty"`
	Pattern *string `json:"pattern,omitempty"`
	Is      string  `json:"is,omitempty"`
	// Value is the JSON value of event_property_is and
	// event_property_contains; JSON null is the text "null", absence nil.
	Value json.RawMessage `json:"value,omitempty"`
}

// The action names (spec: "Actions"). DontNotify and Coalesce are historical:
// kept where a user stored them, ignored by evaluation.
const (
	ActionNotify     = "notify"
	ActionSetTweak   = "set_tweak"
	ActionDontNotify = "dont_notify"
	ActionCoalesce   = "coalesce"
)

// The tweaks evaluation reads.
const (
	TweakSound     = "sound"
	TweakHighlight = "highlight"
)

// Action is one action: a bare name ("notify") or a set_tweak object. Other
// object actions are kept verbatim in Raw.
type Action struct {
	Name  string          // "notify", "set_tweak", ...
	Tweak string          // for set_tweak: the tweak's name
	Value json.RawMessage // for set_tweak: the value, nil when absent
	Raw   json.RawMessage // an object action that is not set_tweak
}

// Notify is the "notify" action.
func Notify() Action { return Action{Name: ActionNotify} }

// SetTweak is a set_tweak action; value is JSON, nil for none.
func SetTweak(tweak string, value json.RawMessage) Action {
	return Action{Name: ActionSetTweak, Tweak: tweak, Value: value}
}

// MarshalJSON writes a bare name as a string and set_tweak as an object.
func (a Action) MarshalJSON() ([]byte, error) {
	switch {
	case a.Raw != nil:
		return a.Raw, nil
	case a.Name != ActionSetTweak:
		return json.Marshal(a.Name)
	}
	obj := struct {
		SetTweak string          `json:"set_tweak"`
		Value    json.RawMessage `json:"value,omitempty"`
	}{a.Tweak, a.Value}
	return json.Marshal(obj)
}

// errBadAction is wrapped by the errors of Action.UnmarshalJSON.
var errBadAction = errors.New("action must be a string or an object")

// UnmarshalJSON reads a string action or an object action.
func (a *Action) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*a = Action{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &a.Name)
	}
	if len(b) == 0 || b[0] != '{' {
		return errBadAction
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	tweak, ok := obj[ActionSetTweak]
	if !ok {
		a.Raw = append(json.RawMessage(nil), b...)
		return nil
	}
	a.Name = ActionSetTweak
	if err := json.Unmarshal(tweak, &a.Tweak); err != nil {
		return fmt.Errorf("set_tweak must be a string: %w", err)
	}
	if v, ok := obj["value"]; ok {
		a.Value = append(json.RawMessage(nil), v...)
	}
	return nil
}

// Clone returns a copy of rs whose rule, condition and action slices are
// its own, so edits never touch a shared ruleset. (JSON values inside are
// shared: nothing edits them in place.)
func (rs *Ruleset) Clone() *Ruleset {
	out := &Ruleset{}
	for _, k := range Kinds {
		src := *rs.Rules(k)
		dst := make([]Rule, len(src))
		for i, r := range src {
			r.Conditions = append([]Condition(nil), r.Conditions...)
			r.Actions = append([]Action(nil), r.Actions...)
			dst[i] = r
		}
		*out.Rules(k) = dst
	}
	return out
}
