package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"

	userapi "github.com/myelin-im/myelin/userapi/api"
)

// The device-list sections of a /sync response (spec: "Tracking the device
// list for a user", and GET /sync's device_lists,
// device_one_time_keys_count and device_unused_fallback_key_types).
//
// changed lists the users whose clients must be asked again for their
// devices: those sharing a joined room with the syncing user whose device
// list changed after the token, and those who newly share a room with them
// (another user's join, or the syncing user's own join of a room with
// members). left lists the users who shared a room before and share none
// now. Like Synapse, every joined room counts, encrypted or not.
//
// NOTSPEC: a membership change another user made is seen in the rooms'
// timeline and state sections of the response; a filter that removes
// m.room.member events from them also hides those users from changed and
// left (their later key changes still appear in changed).

// addDeviceLists fills device_lists for an incremental sync and returns the
// device-list position the next token carries and whether it added a user.
// An initial sync lists nobody: the client queries every user it tracks.
func (rt *Routes) addDeviceLists(
	ctx context.Context, resp *Response, dev *userapi.Device, tok syncToken, win syncWindow,
) (int64, bool, error) {
	latest := rt.notifier.DeviceListPos()
	if win.initial() {
		// The stream's own latest position, not the notifier's, which may
		// not have heard yet of a change committed before this sync (the
		// user's own registration): the next sync must not list it again.
		_, stored, err := rt.users.DeviceListChanges(ctx, math.MaxInt64, -1)
		return max(latest, stored), false, err
	}
	// Who shares a room with the user, read only when a change or a
	// membership event needs it: most syncs have neither, and the set
	// walks every member of every joined room under the notifier's lock.
	peers := sync.OnceValue(func() map[string]struct{} { return rt.notifier.Peers(dev.UserID) })
	changed := map[string]struct{}{}
	if from := max(tok.dl, 0); from < latest {
		users, _, err := rt.users.DeviceListChanges(ctx, from, latest)
		if err != nil {
			return 0, false, err
		}
		for _, u := range users {
			if _, ok := peers()[u]; ok {
				changed[u] = struct{}{}
			}
		}
	}
	left := map[string]struct{}{}
	rt.membershipDeviceChanges(resp, dev.UserID, peers, changed, left)
	resp.DeviceLists.Changed = sortedSet(changed)
	resp.DeviceLists.Left = sortedSet(left)
	return max(latest, tok.dl), len(changed)+len(left) > 0, nil
}

// membershipDeviceChanges adds to changed and left what the response's
// membership events mean for device tracking.
func (rt *Routes) membershipDeviceChanges(
	resp *Response, userID string, peers func() map[string]struct{}, changed, left map[string]struct{},
) {
	note := func(target, membership string, joinedRoom string) {
		_, sharing := peers()[target]
		switch {
		case target == userID && membership == "join" && joinedRoom != "":
			// The user joined: everyone already there is new to them, and
			// the user too when anyone is there: their other devices must
			// share keys with the room's devices (Synapse does the same;
			// Complement TestDeviceListsUpdateOverFederation).
			for _, m := range rt.notifier.JoinedMembers(joinedRoom) {
				if m != userID {
					changed[m] = struct{}{}
					changed[userID] = struct{}{}
				}
			}
		case target == userID:
		case membership == "join" && sharing:
			changed[target] = struct{}{}
		case membership != "join" && !sharing:
			left[target] = struct{}{}
		}
	}
	for roomID, room := range resp.Rooms.Join {
		forMembers(room.State.Events, func(target, membership string) { note(target, membership, roomID) })
		forMembers(room.Timeline.Events, func(target, membership string) { note(target, membership, roomID) })
	}
	for roomID, room := range resp.Rooms.Leave {
		// The user left: the room's members they share no other room with
		// are no longer tracked.
		for _, m := range rt.notifier.JoinedMembers(roomID) {
			if _, sharing := peers()[m]; !sharing {
				left[m] = struct{}{}
			}
		}
		forMembers(room.Timeline.Events, func(target, membership string) { note(target, membership, "") })
	}
}

// forMembers calls fn with the state key and membership of each
// m.room.member event among evs (client-format events).
func forMembers(evs []json.RawMessage, fn func(target, membership string)) {
	for _, raw := range evs {
		if !bytes.Contains(raw, []byte(`"m.room.member"`)) {
			continue // most events: no need to decode them
		}
		var ev struct {
			Type     string  `json:"type"`
			StateKey *string `json:"state_key"`
			Content  struct {
				Membership string `json:"membership"`
			} `json:"content"`
		}
		if json.Unmarshal(raw, &ev) != nil || ev.Type != "m.room.member" || ev.StateKey == nil {
			continue
		}
		fn(*ev.StateKey, ev.Content.Membership)
	}
}

func sortedSet(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// addKeyCounts gives the syncing device its unclaimed one-time key counts
// and unused fallback key types, so that its client knows when to upload
// more. They are read once per response sent, not per look while waiting.
func (rt *Routes) addKeyCounts(ctx context.Context, resp *Response, dev *userapi.Device) error {
	if ctx.Err() != nil {
		return nil // the client went away: the response is not sent
	}
	counts, err := rt.users.OneTimeKeyCounts(ctx, dev.Localpart, dev.ID)
	if err != nil {
		return fmt.Errorf("one-time key counts: %w", err)
	}
	types, err := rt.users.UnusedFallbackKeyTypes(ctx, dev.Localpart, dev.ID)
	if err != nil {
		return fmt.Errorf("fallback key types: %w", err)
	}
	resp.OneTimeKeysCount = counts
	resp.UnusedFallbackKeyTypes = append([]string{}, types...)
	return nil
}
