package pushrules

import (
	"encoding/json"
	"strings"
)

// The server-default rule IDs of spec v1.19 ("Predefined Rules"), and the
// legacy mention rules spec v1.17 removed (.m.rule.contains_display_name,
// .m.rule.roomnotif and the content rule .m.rule.contains_user_name).
//
// NOTSPEC: Myelin keeps the legacy rules, in their v1.16 places, as
// Synapse does: clients and bridges that do not send m.mentions still
// mention users by name in the body, and Complement expects it
// (TestThreadedReceipts). As v1.7 said of them (MSC3952), they never
// match an event that has m.mentions, so mentions are not counted twice.
const (
	RuleContainsDisplayName    = ".m.rule.contains_display_name"
	RuleRoomNotif              = ".m.rule.roomnotif"
	RuleContainsUserName       = ".m.rule.contains_user_name"
	RuleMaster                 = ".m.rule.master"
	RuleSuppressNotices        = ".m.rule.suppress_notices"
	RuleInviteForMe            = ".m.rule.invite_for_me"
	RuleMemberEvent            = ".m.rule.member_event"
	RuleIsUserMention          = ".m.rule.is_user_mention"
	RuleIsRoomMention          = ".m.rule.is_room_mention"
	RuleTombstone              = ".m.rule.tombstone"
	RuleReaction               = ".m.rule.reaction"
	RuleServerACL              = ".m.rule.room.server_acl"
	RuleSuppressEdits          = ".m.rule.suppress_edits"
	RuleCall                   = ".m.rule.call"
	RuleEncryptedRoomOneToOne  = ".m.rule.encrypted_room_one_to_one"
	RuleRoomOneToOne           = ".m.rule.room_one_to_one"
	RuleMessage                = ".m.rule.message"
	RuleEncrypted              = ".m.rule.encrypted"
	memberCountOneToOne        = "2"
	mentionsUserIDsKey         = `content.m\.mentions.user_ids`
	mentionsRoomKey            = `content.m\.mentions.room`
	relatesToRelTypeKey        = `content.m\.relates_to.rel_type`
	soundDefault               = `"default"`
	soundRing                  = `"ring"`
	notificationPermissionRoom = "room"
)

func match(key, pattern string) Condition {
	return Condition{Kind: EventMatch, Key: key, Pattern: &pattern}
}

func propertyIs(key string, value json.RawMessage) Condition {
	return Condition{Kind: EventPropertyIs, Key: key, Value: value}
}

func defaultRule(id string, enabled bool, conds []Condition, actions ...Action) Rule {
	if conds == nil {
		conds = []Condition{}
	}
	if actions == nil {
		actions = []Action{}
	}
	return Rule{RuleID: id, Default: true, Enabled: enabled, Conditions: conds, Actions: actions}
}

// Defaults returns the server-default rules of spec v1.19 for userID, in
// the spec's order ("Default Override Rules", "Default Underride Rules").
// The user's ID fills the rules' "[the user's Matrix ID]".
func Defaults(userID string) *Ruleset {
	quoted, _ := json.Marshal(userID)
	notify, sound := Notify(), SetTweak(TweakSound, json.RawMessage(soundDefault))
	highlight := SetTweak(TweakHighlight, nil)
	return &Ruleset{
		Override: []Rule{
			defaultRule(RuleMaster, false, nil),
			defaultRule(RuleSuppressNotices, true, []Condition{match("content.msgtype", "m.notice")}),
			defaultRule(RuleInviteForMe, true, []Condition{
				match("type", "m.room.member"), match("content.membership", "invite"), match("state_key", userID),
			}, notify, sound),
			defaultRule(RuleMemberEvent, true, []Condition{match("type", "m.room.member")}),
			defaultRule(RuleIsUserMention, true, []Condition{
				{Kind: EventPropertyContains, Key: mentionsUserIDsKey, Value: quoted},
			}, notify, sound, highlight),
			defaultRule(RuleContainsDisplayName, true, []Condition{{Kind: ContainsDisplayName}}, notify, sound, highlight),
			defaultRule(RuleIsRoomMention, true, []Condition{
				propertyIs(mentionsRoomKey, json.RawMessage("true")),
				{Kind: SenderNotificationPermission, Key: notificationPermissionRoom},
			}, notify, highlight),
			defaultRule(RuleRoomNotif, true, []Condition{
				match("content.body", "@room"), {Kind: SenderNotificationPermission, Key: notificationPermissionRoom},
			}, notify, highlight),
			defaultRule(RuleTombstone, true, []Condition{match("type", "m.room.tombstone"), match("state_key", "")},
				notify, highlight),
			defaultRule(RuleReaction, true, []Condition{match("type", "m.reaction")}),
			defaultRule(RuleServerACL, true, []Condition{match("type", "m.room.server_acl"), match("state_key", "")}),
			defaultRule(RuleSuppressEdits, true, []Condition{propertyIs(relatesToRelTypeKey, json.RawMessage(`"m.replace"`))}),
		},
		Content: []Rule{contentRule(RuleContainsUserName, localpartOf(userID), notify, sound, highlight)},
		Room:    []Rule{},
		Sender:  []Rule{},
		Underride: []Rule{
			defaultRule(RuleCall, true, []Condition{match("type", "m.call.invite")},
				notify, SetTweak(TweakSound, json.RawMessage(soundRing))),
			defaultRule(RuleEncryptedRoomOneToOne, true, []Condition{
				{Kind: RoomMemberCount, Is: memberCountOneToOne}, match("type", "m.room.encrypted"),
			}, notify, sound),
			defaultRule(RuleRoomOneToOne, true, []Condition{
				{Kind: RoomMemberCount, Is: memberCountOneToOne}, match("type", "m.room.message"),
			}, notify, sound),
			defaultRule(RuleMessage, true, []Condition{match("type", "m.room.message")}, notify),
			defaultRule(RuleEncrypted, true, []Condition{match("type", "m.room.encrypted")}, notify),
		},
	}
}

// contentRule is a server-default content rule: its pattern matched
// against content.body.
func contentRule(id, pattern string, actions ...Action) Rule {
	r := defaultRule(id, true, nil, actions...)
	r.Conditions, r.Pattern = nil, &pattern // content rules carry no conditions
	return r
}

// localpartOf is the localpart of a user ID ("@alice:example.org" →
// "alice").
func localpartOf(userID string) string {
	lp, _, _ := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	return lp
}

// isLegacyMention reports whether a rule is one of the legacy mention
// rules, which an event with m.mentions never matches.
func isLegacyMention(ruleID string) bool {
	return ruleID == RuleContainsDisplayName || ruleID == RuleRoomNotif || ruleID == RuleContainsUserName
}
