package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/myelin-im/myelin/internal/pushrules"
	"github.com/myelin-im/myelin/userapi/api"
)

// userLocks serialise a user's read-modify-write edits of account data
// (push rules, room tags) in this process; the zero value is ready.
type userLocks struct {
	seed  maphash.Seed
	once  sync.Once
	locks [64]sync.Mutex
}

// lock takes the lock of localpart's stripe and returns its unlock.
func (l *userLocks) lock(localpart api.Localpart) func() {
	l.once.Do(func() { l.seed = maphash.MakeSeed() })
	m := &l.locks[maphash.String(l.seed, string(localpart))%uint64(len(l.locks))]
	m.Lock()
	return m.Unlock
}

// pushState is the user API's push-rule and tag state.
type pushState struct {
	edits    userLocks
	compiled *pushrules.Cache
}

func newPushState() pushState { return pushState{compiled: pushrules.NewCache(0)} }

// PushRules implements api.PushRules.
func (u *UserAPI) PushRules(ctx context.Context, localpart api.Localpart) (*pushrules.Ruleset, error) {
	content, err := u.store.AccountData(ctx, localpart, "", pushrules.AccountDataType)
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		return nil, err
	}
	stored, err := pushrules.ParseAccountData(content)
	if err != nil {
		// Unreadable stored rules are replaced by the defaults rather than
		// making every notification and the API fail for this user.
		u.log.WithError(err).WithField("user_id", u.userID(localpart)).Warn("ignoring unreadable m.push_rules")
		stored = nil
	}
	return pushrules.Normalize(stored, u.userID(localpart)), nil
}

// CompiledPushRules implements api.CompiledPushRules.
func (u *UserAPI) CompiledPushRules(ctx context.Context, localpart api.Localpart) (*pushrules.Compiled, error) {
	return u.push.compiled.Get(ctx, u.userID(localpart), func(ctx context.Context) (*pushrules.Ruleset, error) {
		return u.PushRules(ctx, localpart)
	})
}

// PutPushRule implements api.PushRules.
func (u *UserAPI) PutPushRule(
	ctx context.Context, localpart api.Localpart, kind pushrules.Kind, rule pushrules.Rule, before, after string,
) error {
	return u.editPushRules(ctx, localpart, func(rs *pushrules.Ruleset) error { return rs.Put(kind, rule, before, after) })
}

// DeletePushRule implements api.PushRules.
func (u *UserAPI) DeletePushRule(ctx context.Context, localpart api.Localpart, kind pushrules.Kind, ruleID string) error {
	return u.editPushRules(ctx, localpart, func(rs *pushrules.Ruleset) error { return rs.Delete(kind, ruleID) })
}

// SetPushRuleEnabled implements api.PushRules.
func (u *UserAPI) SetPushRuleEnabled(
	ctx context.Context, localpart api.Localpart, kind pushrules.Kind, ruleID string, enabled bool,
) error {
	return u.editPushRules(ctx, localpart, func(rs *pushrules.Ruleset) error { return rs.SetEnabled(kind, ruleID, enabled) })
}

// SetPushRuleActions implements api.PushRules.
func (u *UserAPI) SetPushRuleActions(
	ctx context.Context, localpart api.Localpart, kind pushrules.Kind, ruleID string, actions []pushrules.Action,
) error {
	return u.editPushRules(ctx, localpart, func(rs *pushrules.Ruleset) error { return rs.SetActions(kind, ruleID, actions) })
}

// editPushRules applies edit to the user's normalized rules and stores the
// result as their m.push_rules account data, under the user's lock and in
// one transaction; SetAccountData announces it (so /sync delivers it) and
// drops the compiled rules once it commits.
func (u *UserAPI) editPushRules(ctx context.Context, localpart api.Localpart, edit func(*pushrules.Ruleset) error) error {
	defer u.push.edits.lock(localpart)()
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		rs, err := u.PushRules(ctx, localpart)
		if err != nil {
			return err
		}
		if err := edit(rs); err != nil {
			return err
		}
		content, err := pushrules.AccountData(rs)
		if err != nil {
			return err
		}
		return u.SetAccountData(ctx, localpart, "", pushrules.AccountDataType, content)
	})
}

// afterAccountDataWrite drops what is derived from account data once the
// write in ctx commits.
func (u *UserAPI) afterAccountDataWrite(ctx context.Context, localpart api.Localpart, roomID, dataType string) {
	if roomID == "" && dataType == pushrules.AccountDataType {
		u.forgetPushRules(ctx, localpart)
	}
}

// forgetPushRules drops the user's compiled rules once the transaction in
// ctx commits.
func (u *UserAPI) forgetPushRules(ctx context.Context, localpart api.Localpart) {
	userID := u.userID(localpart)
	u.store.AfterCommit(ctx, func() { u.push.compiled.Invalidate(userID) })
}

// accountDataView gives m.push_rules as its normalized rules (the defaults
// when the user has none stored); other account data as stored.
func (u *UserAPI) accountDataView(ctx context.Context, localpart api.Localpart, roomID, dataType string) (json.RawMessage, error) {
	if roomID != "" || dataType != pushrules.AccountDataType {
		return u.store.AccountData(ctx, localpart, roomID, dataType)
	}
	rs, err := u.PushRules(ctx, localpart)
	if err != nil {
		return nil, err
	}
	return pushrules.AccountData(rs)
}

// withPushRules normalizes the m.push_rules entries of an account-data
// read and, on an initial read (since < 0), adds the default rules for a
// user who never changed theirs: clients expect m.push_rules in an initial
// /sync (spec: "Push Rules: Events").
func (u *UserAPI) withPushRules(
	ctx context.Context, localpart api.Localpart, since int64, entries []api.AccountDataEntry,
) ([]api.AccountDataEntry, error) {
	found := false
	for i, e := range entries {
		if e.RoomID != "" || e.Type != pushrules.AccountDataType {
			continue
		}
		found = true
		content, err := u.accountDataView(ctx, localpart, "", pushrules.AccountDataType)
		if err != nil {
			return nil, err
		}
		entries[i].Content = content
	}
	if found || since >= 0 {
		return entries, nil
	}
	content, err := pushrules.AccountData(pushrules.Defaults(u.userID(localpart)))
	if err != nil {
		return nil, err
	}
	return append([]api.AccountDataEntry{{Type: pushrules.AccountDataType, Content: content}}, entries...), nil
}

// tagsContent is the content of m.tag room account data.
type tagsContent struct {
	Tags map[string]json.RawMessage `json:"tags"`
}

// SetRoomTag implements api.RoomTags.
func (u *UserAPI) SetRoomTag(ctx context.Context, localpart api.Localpart, roomID, tag string, content json.RawMessage) error {
	return u.editTags(ctx, localpart, roomID, func(tags map[string]json.RawMessage) bool {
		tags[tag] = content
		return true
	})
}

// DeleteRoomTag implements api.RoomTags. Removing a tag the room does not
// have changes nothing.
func (u *UserAPI) DeleteRoomTag(ctx context.Context, localpart api.Localpart, roomID, tag string) error {
	return u.editTags(ctx, localpart, roomID, func(tags map[string]json.RawMessage) bool {
		_, had := tags[tag]
		delete(tags, tag)
		return had
	})
}

// editTags applies edit to the room's tags under the user's lock and
// stores them when edit reports a change.
func (u *UserAPI) editTags(
	ctx context.Context, localpart api.Localpart, roomID string, edit func(map[string]json.RawMessage) bool,
) error {
	defer u.push.edits.lock(localpart)()
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		var tc tagsContent
		old, err := u.store.AccountData(ctx, localpart, roomID, api.TagsAccountDataType)
		switch {
		case errors.Is(err, api.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(old, &tc); err != nil {
				u.log.WithError(err).WithField("room_id", roomID).Warn("replacing unreadable m.tag")
			}
		}
		if tc.Tags == nil {
			tc.Tags = map[string]json.RawMessage{}
		}
		if !edit(tc.Tags) {
			return nil
		}
		content, err := json.Marshal(tc)
		if err != nil {
			return fmt.Errorf("userapi: encoding m.tag: %w", err)
		}
		return u.SetAccountData(ctx, localpart, roomID, api.TagsAccountDataType, content)
	})
}
