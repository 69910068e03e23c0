package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// Friends are derived from direct rooms (ARCHITECTURE §1, rows 11–15): a
// friend is someone with whom the user shares a room where the two of them,
// and no one else, are joined, and which is direct: someone was invited to
// it with is_direct (spec: m.room.member), or it is in either user's
// m.direct account data (spec: "Direct Messaging"; the other user's only
// when they are local, as other servers' account data is not visible).

// Profile fields a friends list shows.
const (
	fieldDisplayName = "displayname"
	fieldAvatarURL   = "avatar_url"
	fieldSignature   = "im.myelin.signature"
)

// friendProfile is a profile as the friends endpoints give it.
type friendProfile struct {
	DisplayName string `json:"displayname,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
	Signature   string `json:"im.myelin.signature,omitempty"`
}

// friend is one entry of GET friends.
type friend struct {
	UserID  string        `json:"user_id"`
	Profile friendProfile `json:"profile"`
	// RoomID is the direct room the friendship is oldest in; Rooms all of
	// them (usually one).
	RoomID string   `json:"room_id"`
	Rooms  []string `json:"rooms"`
	// Since is when both were first joined to RoomID (the later join's
	// origin_server_ts, in milliseconds).
	Since int64 `json:"since"`
}

// friendsOf lists the user's friends, sorted by since then user ID. It
// costs the roomserver's one query, the user's m.direct, one batch of local
// profiles, and the m.direct of local users in two-person rooms that are
// not already known to be direct (usually none).
func (rt *Routes) friendsOf(ctx context.Context, dev *api.Device) ([]*friend, error) {
	rooms, err := rt.rooms.DirectRooms(ctx, dev.UserID)
	if err != nil {
		return nil, fmt.Errorf("reading direct rooms: %w", err)
	}
	mine, err := rt.readDirect(ctx, dev.Localpart)
	if err != nil {
		return nil, err
	}
	byUser := map[string]*friend{}
	var order []*friend
	for _, r := range rooms {
		direct, err := rt.isDirect(ctx, r, mine)
		if err != nil {
			return nil, err
		}
		if !direct {
			continue
		}
		f := byUser[r.Other]
		if f == nil {
			f = &friend{UserID: r.Other, Profile: friendProfile{DisplayName: r.OtherDisplayName, AvatarURL: r.OtherAvatarURL}}
			byUser[r.Other] = f
			order = append(order, f)
		}
		since := max(r.MyJoinTS, r.OtherJoinTS)
		if f.RoomID == "" || since < f.Since {
			f.RoomID, f.Since = r.RoomID, since
		}
		f.Rooms = append(f.Rooms, r.RoomID)
	}
	if err := rt.fillLocalProfiles(ctx, order); err != nil {
		return nil, err
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].Since != order[j].Since {
			return order[i].Since < order[j].Since
		}
		return order[i].UserID < order[j].UserID
	})
	return order, nil
}

// isDirect decides whether a two-person room is direct.
func (rt *Routes) isDirect(ctx context.Context, r roomapi.TwoPersonRoom, mine directMap) (bool, error) {
	if r.DirectInvite || mine.has(r.RoomID) {
		return true, nil
	}
	lp, ok := api.LocalpartOf(r.Other, rt.opts.ServerName)
	if !ok {
		return false, nil
	}
	theirs, err := rt.readDirect(ctx, lp)
	if err != nil {
		return false, err
	}
	return theirs.has(r.RoomID), nil
}

// fillLocalProfiles replaces the room-given profiles of local friends with
// their global profiles, read in one batch. Other servers' users keep what
// their join event said (no federation request per friend).
func (rt *Routes) fillLocalProfiles(ctx context.Context, fs []*friend) error {
	var lps []api.Localpart
	for _, f := range fs {
		if lp, ok := api.LocalpartOf(f.UserID, rt.opts.ServerName); ok {
			lps = append(lps, lp)
		}
	}
	if len(lps) == 0 {
		return nil
	}
	profiles, err := rt.users.ProfileFieldsOf(ctx, lps, []string{fieldDisplayName, fieldAvatarURL, fieldSignature})
	if err != nil {
		return fmt.Errorf("reading friends' profiles: %w", err)
	}
	for _, f := range fs {
		if lp, ok := api.LocalpartOf(f.UserID, rt.opts.ServerName); ok {
			f.Profile = profileOf(profiles[lp])
		}
	}
	return nil
}

// profileOf picks the string fields of a stored profile.
func profileOf(fields map[string]json.RawMessage) friendProfile {
	var p friendProfile
	_ = json.Unmarshal(fields[fieldDisplayName], &p.DisplayName)
	_ = json.Unmarshal(fields[fieldAvatarURL], &p.AvatarURL)
	_ = json.Unmarshal(fields[fieldSignature], &p.Signature)
	return p
}

// directMap is m.direct's content: user ID to the direct rooms with them
// (spec: "m.direct"). Values that are not lists of strings are kept as they
// are when the map is written back.
type directMap map[string]json.RawMessage

func (d directMap) rooms(userID string) []string {
	var rooms []string
	_ = json.Unmarshal(d[userID], &rooms)
	return rooms
}

func (d directMap) has(roomID string) bool {
	for u := range d {
		if slices.Contains(d.rooms(u), roomID) {
			return true
		}
	}
	return false
}

// add lists roomID under userID, reporting whether it changed anything.
func (d directMap) add(userID, roomID string) bool {
	rooms := d.rooms(userID)
	if slices.Contains(rooms, roomID) {
		return false
	}
	b, _ := json.Marshal(append(rooms, roomID))
	d[userID] = b
	return true
}

// remove drops the rooms from every user's list, reporting whether it
// changed anything; users left with no room are dropped.
func (d directMap) remove(roomIDs []string) bool {
	changed := false
	for u := range d {
		rooms := d.rooms(u)
		kept := slices.DeleteFunc(slices.Clone(rooms), func(r string) bool { return slices.Contains(roomIDs, r) })
		if len(kept) == len(rooms) {
			continue
		}
		changed = true
		if len(kept) == 0 {
			delete(d, u)
			continue
		}
		b, _ := json.Marshal(kept)
		d[u] = b
	}
	return changed
}

// readDirect reads a user's m.direct (empty when unset or unreadable).
func (rt *Routes) readDirect(ctx context.Context, lp api.Localpart) (directMap, error) {
	raw, err := rt.users.AccountData(ctx, lp, "", "m.direct")
	if errors.Is(err, api.ErrNotFound) {
		return directMap{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading m.direct: %w", err)
	}
	d := directMap{}
	if json.Unmarshal(raw, &d) != nil {
		return directMap{}, nil
	}
	return d, nil
}

// updateDirect changes a user's m.direct with change, writing it back
// (which /sync announces) when change reports a change.
func (rt *Routes) updateDirect(ctx context.Context, lp api.Localpart, change func(directMap) bool) error {
	d, err := rt.readDirect(ctx, lp)
	if err != nil {
		return err
	}
	if !change(d) {
		return nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := rt.users.SetAccountData(ctx, lp, "", "m.direct", b); err != nil {
		return fmt.Errorf("writing m.direct: %w", err)
	}
	return nil
}
