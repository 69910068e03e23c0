package pushrules

import "encoding/json"

// The server-default rule IDs of spec v1.19 ("Predefined Rules"). Spec
// v1.17 removed the legacy rules that looked for mentions in the body
// (.m.rule.contains_display_name, .m.rule.roomnotif and the content rule
// .m.rule.contains_user_name), so there are no default content rules.
const (
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
			defaultRule(RuleIsRoomMention, true, []Condition{
				propertyIs(mentionsRoomKey, json.RawMessage("true")),
				{Kind: SenderNotificationPermission, Key: notificationPermissionRoom},
			}, notify, highlight),
			defaultRule(RuleTombstone, true, []Condition{match("type", "m.room.tombstone"), match("state_key", "")},
				notify, highlight),
			defaultRule(RuleReaction, true, []Condition{match("type", "m.reaction")}),
			defaultRule(RuleServerACL, true, []Condition{match("type", "m.room.server_acl"), match("state_key", "")}),
			defaultRule(RuleSuppressEdits, true, []Condition{propertyIs(relatesToRelTypeKey, json.RawMessage(`"m.replace"`))}),
		},
		Content: []Rule{},
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
