package pushrules

import (
	"encoding/json"
	"strings"
)

// Room is what conditions read of the room an event is in, as of the event.
type Room struct {
	// MemberCount is the number of joined members (room_member_count).
	MemberCount int
	// PowerLevels are the room's power levels (ParsePowerLevels). nil puts
	// every sender at level 0; for a room without an m.room.power_levels
	// event, give its creator 100 in Users instead, as the auth rules do.
	PowerLevels *PowerLevels
}

// User is the user an event is evaluated for.
type User struct {
	ID string
	// DisplayName is the user's display name in the room
	// (contains_display_name); "" never matches.
	DisplayName string
}

// Result is the outcome of evaluating an event for one user.
type Result struct {
	// Kind and RuleID name the rule that matched; RuleID is "" when none
	// did, and then the user is not notified.
	Kind   Kind
	RuleID string
	// Actions are the matched rule's actions. They are shared with the
	// Compiled ruleset: do not modify them.
	Actions []Action
	// ActionsJSON is Actions encoded (a JSON array), shared likewise.
	ActionsJSON json.RawMessage
	Outcome
}

// Matched reports whether a rule matched.
func (r Result) Matched() bool { return r.RuleID != "" }

// Evaluate finds the first enabled rule, in priority order, that matches ev
// for user in room. An event the user sent never matches (spec:
// "Homeservers MUST NOT notify the Push Gateway for events that the user
// has sent themselves").
func (c *Compiled) Evaluate(ev *Event, room *Room, user User) Result {
	if ev.sender == user.ID {
		return Result{}
	}
	for i := range c.rules {
		r := &c.rules[i]
		if r.matches(ev, room, user) {
			return Result{Kind: r.kind, RuleID: r.rule.RuleID, Actions: r.rule.Actions, ActionsJSON: r.actionsJSON, Outcome: r.outcome}
		}
	}
	return Result{}
}

func (r *compiledRule) matches(ev *Event, room *Room, user User) bool {
	if r.legacy && ev.mentions {
		return false
	}
	for i := range r.conds {
		if !r.conds[i].holds(ev, room, user) {
			return false
		}
	}
	return true
}

func (c *cond) holds(ev *Event, room *Room, user User) bool {
	switch c.op {
	case opMatch:
		// Spec: absent or not a string: no match, even for "*".
		p, ok := ev.props[c.key]
		return ok && p.t == typeString && c.glob.match(p.lower)
	case opEqual:
		p, ok := ev.props[c.key]
		return ok && p.t == typeString && p.s == c.value.s
	case opIs:
		p, ok := ev.props[c.key]
		return ok && !p.isArr && p.equal(c.value)
	case opContains:
		return ev.contains(c.key, c.value)
	case opDisplayName:
		return user.DisplayName != "" && ev.hasBody && containsWord(ev.body, strings.ToLower(user.DisplayName))
	case opMemberCount:
		return room != nil && compare(room.MemberCount, c.cmp, c.count)
	case opSenderPermission:
		return room != nil && room.PowerLevels.senderMay(ev.sender, c.key)
	}
	return false
}

func (ev *Event) contains(key string, v scalar) bool {
	p, ok := ev.props[key]
	if !ok || !p.isArr {
		return false
	}
	for _, e := range p.array {
		if e.equal(v) {
			return true
		}
	}
	return false
}

func compare(n int, cmp string, want int) bool {
	switch cmp {
	case "<":
		return n < want
	case ">":
		return n > want
	case "<=":
		return n <= want
	case ">=":
		return n >= want
	}
	return n == want
}
