package pushrules

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Compiled is a user's ruleset prepared for evaluation: only enabled rules,
// in priority order, each condition resolved to a matcher and each rule's
// actions to their outcome. It is immutable; goroutines may share it.
type Compiled struct {
	rules []compiledRule
}

type compiledRule struct {
	kind    Kind
	rule    Rule
	conds   []cond
	outcome Outcome
	// legacy: a legacy mention rule (see defaults.go), skipped for events
	// with m.mentions.
	legacy bool
	// actionsJSON is the actions encoded once, for whoever stores them.
	actionsJSON json.RawMessage
}

// Outcome is what a matched rule's actions mean for a notification.
type Outcome struct {
	Notify    bool   // the "notify" action
	Highlight bool   // set_tweak highlight, with no value or true
	Sound     string // set_tweak sound's value ("" for none)
}

// opKind is a compiled condition's test.
type opKind uint8

const (
	opNever opKind = iota // an unknown or malformed condition: never matches
	opMatch
	opIs
	opContains
	opDisplayName
	opMemberCount
	opSenderPermission
	opEqual // room and sender rules: the exact value of a property
)

// cond is one compiled condition.
type cond struct {
	op    opKind
	key   string // the flattened property path (power level key for opSenderPermission)
	glob  *glob
	value scalar
	cmp   string // for opMemberCount: "==", "<", ">", "<=", ">="
	count int
}

// Compile prepares rs for evaluation. A condition it cannot read — an
// unknown kind, a missing parameter, a malformed room_member_count — never
// matches, which disables its rule (spec: "Unrecognised conditions MUST NOT
// match any events"); compiling itself cannot fail.
func Compile(rs *Ruleset) *Compiled {
	c := &Compiled{}
	for _, k := range Kinds {
		for _, r := range *rs.Rules(k) {
			if !r.Enabled {
				continue
			}
			actionsJSON, err := json.Marshal(r.Actions)
			if err != nil || r.Actions == nil {
				actionsJSON = json.RawMessage("[]")
			}
			c.rules = append(c.rules, compiledRule{
				kind: k, rule: r, conds: ruleConds(k, r), outcome: outcomeOf(r.Actions), legacy: r.Default && isLegacyMention(r.RuleID),
				actionsJSON: actionsJSON,
			})
		}
	}
	return c
}

// ruleConds gives a rule's conditions: its own for override and underride
// rules, the predefined ones for the others (spec: "room, sender and
// content rules ... have predefined conditions").
func ruleConds(k Kind, r Rule) []cond {
	switch k {
	case KindContent:
		if r.Pattern == nil {
			return []cond{{op: opNever}}
		}
		return []cond{{op: opMatch, key: "content.body", glob: compileGlob(*r.Pattern, true)}}
	case KindRoom:
		return []cond{{op: opEqual, key: "room_id", value: scalar{t: typeString, s: r.RuleID}}}
	case KindSender:
		return []cond{{op: opEqual, key: "sender", value: scalar{t: typeString, s: r.RuleID}}}
	}
	conds := make([]cond, len(r.Conditions))
	for i, c := range r.Conditions {
		conds[i] = compileCond(c)
	}
	return conds
}

func compileCond(c Condition) cond {
	switch c.Kind {
	case EventMatch:
		if c.Key == "" || c.Pattern == nil {
			return cond{op: opNever}
		}
		key := canonicalPath(c.Key)
		return cond{op: opMatch, key: key, glob: compileGlob(*c.Pattern, key == "content.body")}
	case EventPropertyIs, EventPropertyContains:
		v, ok := parseScalar(c.Value)
		if c.Key == "" || !ok {
			return cond{op: opNever}
		}
		op := opIs
		if c.Kind == EventPropertyContains {
			op = opContains
		}
		return cond{op: op, key: canonicalPath(c.Key), value: v}
	case ContainsDisplayName:
		return cond{op: opDisplayName}
	case RoomMemberCount:
		cmp, n, ok := parseMemberCount(c.Is)
		if !ok {
			return cond{op: opNever}
		}
		return cond{op: opMemberCount, cmp: cmp, count: n}
	case SenderNotificationPermission:
		if c.Key == "" {
			return cond{op: opNever}
		}
		return cond{op: opSenderPermission, key: c.Key}
	}
	return cond{op: opNever}
}

// parseMemberCount reads room_member_count's "is": a decimal integer
// optionally prefixed by ==, <, >, >= or <= (no prefix: ==).
func parseMemberCount(is string) (string, int, bool) {
	cmp := "=="
	for _, p := range []string{"==", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(is, p) {
			cmp, is = p, is[len(p):]
			break
		}
	}
	if is == "" || strings.ContainsAny(is, "+-") {
		return "", 0, false
	}
	n, err := strconv.Atoi(is)
	if err != nil {
		return "", 0, false
	}
	return cmp, n, true
}

// outcomeOf reads the notification outcome of actions. The historical
// dont_notify and coalesce actions mean nothing (spec: "Historical
// Actions").
func outcomeOf(actions []Action) Outcome {
	var o Outcome
	for _, a := range actions {
		switch {
		case a.Name == ActionNotify:
			o.Notify = true
		case a.Name == ActionSetTweak && a.Tweak == TweakHighlight:
			// Spec: a highlight tweak with no value is true.
			o.Highlight = a.Value == nil || bytes.Equal(bytes.TrimSpace(a.Value), []byte("true"))
		case a.Name == ActionSetTweak && a.Tweak == TweakSound:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				o.Sound = s
			}
		}
	}
	return o
}
