package api

import (
	"context"
	"encoding/json"

	"github.com/myelin-im/myelin/internal/pushrules"
)

// PushRules is the push rules surface (spec: "Push Rules: API"). A user's
// rules are kept as their global m.push_rules account data, so /sync
// delivers every change; reads give the normalized rules (the current
// server-default rules with the user's enabled flags and actions, and the
// user's own rules). Edits fail with pushrules.ErrNotFound,
// pushrules.ErrInvalid or pushrules.ErrBeforeAfter.
type PushRules interface {
	PushRules(ctx context.Context, localpart Localpart) (*pushrules.Ruleset, error)
	PutPushRule(ctx context.Context, localpart Localpart, kind pushrules.Kind, rule pushrules.Rule, before, after string) error
	DeletePushRule(ctx context.Context, localpart Localpart, kind pushrules.Kind, ruleID string) error
	SetPushRuleEnabled(ctx context.Context, localpart Localpart, kind pushrules.Kind, ruleID string, enabled bool) error
	SetPushRuleActions(ctx context.Context, localpart Localpart, kind pushrules.Kind, ruleID string, actions []pushrules.Action) error
}

// CompiledPushRules is what evaluating events for a room's members needs:
// each member's rules compiled, cached until they change.
//
// In a split deployment, a client of the user API in
// another process implements this by compiling PushRules itself and
// invalidating on AccountDataTopic changes of type m.push_rules.
type CompiledPushRules interface {
	CompiledPushRules(ctx context.Context, localpart Localpart) (*pushrules.Compiled, error)
}

// TagsAccountDataType is the room account data room tags are kept in (spec:
// "Room Tagging"), with content {"tags": {tag: {"order": n}}}.
const TagsAccountDataType = "m.tag"

// RoomTags edits a user's tags on a room (read them as m.tag room account
// data). Each change is one read-modify-write under the user's lock.
type RoomTags interface {
	SetRoomTag(ctx context.Context, localpart Localpart, roomID, tag string, content json.RawMessage) error
	DeleteRoomTag(ctx context.Context, localpart Localpart, roomID, tag string) error
}
