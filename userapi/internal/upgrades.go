package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/myelin-im/myelin/userapi/api"
)

// CarryRoomSettings implements api.RoomUpgrades: push rules, then tags,
// then m.direct, each under the user's lock in its own transaction.
func (u *UserAPI) CarryRoomSettings(ctx context.Context, localpart api.Localpart, oldRoomID, newRoomID string) error {
	if err := u.CopyRoomPushRules(ctx, localpart, oldRoomID, newRoomID); err != nil {
		return fmt.Errorf("userapi: carrying push rules: %w", err)
	}
	if err := u.carryTags(ctx, localpart, oldRoomID, newRoomID); err != nil {
		return fmt.Errorf("userapi: carrying tags: %w", err)
	}
	if err := u.carryDirect(ctx, localpart, oldRoomID, newRoomID); err != nil {
		return fmt.Errorf("userapi: carrying m.direct: %w", err)
	}
	return nil
}

// carryTags copies the old room's tags to the new room; a tag the new room
// already has keeps its content (the user set it there).
func (u *UserAPI) carryTags(ctx context.Context, localpart api.Localpart, oldRoomID, newRoomID string) error {
	raw, err := u.store.AccountData(ctx, localpart, oldRoomID, api.TagsAccountDataType)
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var old tagsContent
	if json.Unmarshal(raw, &old) != nil || len(old.Tags) == 0 {
		return nil
	}
	return u.editTags(ctx, localpart, newRoomID, func(tags map[string]json.RawMessage) bool {
		changed := false
		for tag, content := range old.Tags {
			if _, ok := tags[tag]; !ok {
				tags[tag], changed = content, true
			}
		}
		return changed
	})
}

// carryDirect adds the new room to every m.direct list that has the old
// room and lacks the new one. Unreadable m.direct is left alone.
func (u *UserAPI) carryDirect(ctx context.Context, localpart api.Localpart, oldRoomID, newRoomID string) error {
	defer u.push.edits.lock(localpart)()
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		raw, err := u.store.AccountData(ctx, localpart, "", api.DirectAccountDataType)
		if errors.Is(err, api.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var direct map[string][]string
		if json.Unmarshal(raw, &direct) != nil {
			u.log.WithField("localpart", localpart).Warn("room upgrade: m.direct is not a map of room ID lists, left as it is")
			return nil
		}
		changed := false
		for user, rooms := range direct {
			if slices.Contains(rooms, oldRoomID) && !slices.Contains(rooms, newRoomID) {
				direct[user], changed = append(rooms, newRoomID), true
			}
		}
		if !changed {
			return nil
		}
		content, err := json.Marshal(direct)
		if err != nil {
			return fmt.Errorf("userapi: encoding m.direct: %w", err)
		}
		return u.SetAccountData(ctx, localpart, "", api.DirectAccountDataType, content)
	})
}
