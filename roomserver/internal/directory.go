package internal

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

var _ api.Directory = (*Roomserver)(nil)

// CreateAlias implements api.Directory. Whether the alias is free is decided
// by the database, so of two concurrent requests for one alias one wins.
func (rs *Roomserver) CreateAlias(ctx context.Context, alias, roomID, creator string) error {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return err
	}
	r.mu.Lock()
	m := r.membership(creator)
	r.mu.Unlock()
	if m != spec.Join {
		return api.Forbidden("you must be in the room to give it an alias")
	}
	err = rs.store.InsertAlias(ctx, alias, r.id, creator, rs.now().UnixMilli())
	if errors.Is(err, storage.ErrAliasExists) {
		return api.ErrAliasInUse
	}
	return err
}

// ResolveAlias implements api.Directory.
func (rs *Roomserver) ResolveAlias(ctx context.Context, alias string) (string, error) {
	a, err := rs.store.Alias(ctx, alias)
	if errors.Is(err, storage.ErrNotFound) {
		return "", api.ErrAliasNotFound
	}
	if err != nil {
		return "", err
	}
	return a.RoomID, nil
}

// DeleteAlias implements api.Directory. The alias's creator may always
// delete it; anyone else needs the power to send m.room.canonical_alias in
// the room (spec: "servers may choose to implement additional access control
// checks"; this is Synapse's rule too). The room's canonical alias event is
// left as it is.
func (rs *Roomserver) DeleteAlias(ctx context.Context, alias, requester string) error {
	a, err := rs.store.Alias(ctx, alias)
	if errors.Is(err, storage.ErrNotFound) {
		return api.ErrAliasNotFound
	}
	if err != nil {
		return err
	}
	if a.Creator != requester {
		r, err := rs.loadRoom(ctx, a.RoomID)
		if errors.Is(err, api.ErrRoomNotFound) {
			return api.Forbidden("only the alias's creator may delete it")
		}
		if err != nil {
			return err
		}
		if err := r.mayEditDirectory(requester); err != nil {
			return err
		}
	}
	if err := rs.store.DeleteAlias(ctx, alias); errors.Is(err, storage.ErrNotFound) {
		return api.ErrAliasNotFound
	} else if err != nil {
		return err
	}
	return nil
}

// AliasesOf implements api.Directory.
func (rs *Roomserver) AliasesOf(ctx context.Context, roomID string) ([]string, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	out, err := rs.store.AliasesOfRoom(ctx, r.id)
	if out == nil && err == nil {
		out = []string{}
	}
	return out, err
}

// SetPublished implements api.Directory.
func (rs *Roomserver) SetPublished(ctx context.Context, roomID, requester string, published bool) error {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return err
	}
	if err := r.mayEditDirectory(requester); err != nil {
		return err
	}
	return rs.store.SetPublished(ctx, r.id, published, rs.now().UnixMilli())
}

// IsPublished implements api.Directory.
func (rs *Roomserver) IsPublished(ctx context.Context, roomID string) (bool, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return false, err
	}
	return rs.store.IsPublished(ctx, r.id)
}

// PublicRooms implements api.Directory. Every published room is summarised
// from its current state in memory on each call and the matches are sorted,
// most joined members first (the spec recommends it), then by room ID so the
// order is stable for offset pagination.
func (rs *Roomserver) PublicRooms(ctx context.Context, req api.PublicRoomsRequest) (api.PublicRoomsResponse, error) {
	ids, err := rs.store.PublishedRooms(ctx)
	if err != nil {
		return api.PublicRoomsResponse{}, err
	}
	term := strings.ToLower(req.SearchTerm)
	matches := make([]api.PublicRoom, 0, len(ids))
	for _, id := range ids {
		r, err := rs.loadRoom(ctx, id)
		if errors.Is(err, api.ErrRoomNotFound) {
			continue
		}
		if err != nil {
			return api.PublicRoomsResponse{}, err
		}
		r.mu.Lock()
		pr := r.publicRoom()
		r.mu.Unlock()
		if matchesTypes(pr.RoomType, req.RoomTypes) && matchesTerm(pr, term) {
			matches = append(matches, pr)
		}
	}
	sort.Slice(matches, func(i, j int) bool {
		if matches[i].NumJoinedMembers != matches[j].NumJoinedMembers {
			return matches[i].NumJoinedMembers > matches[j].NumJoinedMembers
		}
		return matches[i].RoomID < matches[j].RoomID
	})
	out := api.PublicRoomsResponse{Total: len(matches), Rooms: []api.PublicRoom{}}
	if req.Offset < 0 || req.Offset >= len(matches) {
		return out, nil
	}
	page := matches[req.Offset:]
	if req.Limit > 0 && len(page) > req.Limit {
		page = page[:req.Limit]
	}
	out.Rooms = page
	return out, nil
}

// mayEditDirectory checks that a user may change a room's aliases and its
// directory listing: a joined member with the power to send
// m.room.canonical_alias. It takes r.mu.
func (r *room) mayEditDirectory(userID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.membership(userID) != spec.Join {
		return api.Forbidden("you are not in this room")
	}
	level, pl, err := r.userLevel(userID)
	if err != nil {
		return api.Forbidden("cannot read the room's power levels: %v", err)
	}
	if need := pl.EventLevel(spec.MRoomCanonicalAlias, true); level < need {
		return api.Forbidden("this needs the power level to send %s (%d); you have %d", spec.MRoomCanonicalAlias, need, level)
	}
	return nil
}

// publicRoom summarises r for the directory from its current state. The
// caller holds r.mu.
func (r *room) publicRoom() api.PublicRoom {
	pr := api.PublicRoom{RoomID: r.id}
	content := func(evType string, v any) {
		if ev, _ := r.get(evType, ""); ev != nil {
			_ = json.Unmarshal(ev.Content(), v)
		}
	}
	var create struct {
		Type any `json:"type"`
	}
	content(spec.MRoomCreate, &create)
	pr.RoomType, _ = create.Type.(string)
	var name struct {
		Name string `json:"name"`
	}
	content(spec.MRoomName, &name)
	pr.Name = name.Name
	var topic struct {
		Topic string `json:"topic"`
		Block struct {
			Text []struct {
				Body     string `json:"body"`
				MimeType string `json:"mimetype"`
			} `json:"m.text"`
		} `json:"m.topic"`
	}
	content(spec.MRoomTopic, &topic)
	pr.Topic = topic.Topic
	if pr.Topic == "" {
		// Spec (PublishedRoomsChunk): the plain text topic; m.topic's
		// text/plain representation (the default mimetype) otherwise.
		for _, t := range topic.Block.Text {
			if t.MimeType == "" || t.MimeType == "text/plain" {
				pr.Topic = t.Body
				break
			}
		}
	}
	var alias struct {
		Alias string `json:"alias"`
	}
	content(spec.MRoomCanonicalAlias, &alias)
	pr.CanonicalAlias = alias.Alias
	var avatar struct {
		URL string `json:"url"`
	}
	content("m.room.avatar", &avatar)
	pr.AvatarURL = avatar.URL
	var jr struct {
		JoinRule string `json:"join_rule"`
	}
	content(spec.MRoomJoinRules, &jr)
	pr.JoinRule = jr.JoinRule
	var hv struct {
		HistoryVisibility string `json:"history_visibility"`
	}
	content(spec.MRoomHistoryVisibility, &hv)
	pr.WorldReadable = hv.HistoryVisibility == "world_readable"
	var ga struct {
		GuestAccess string `json:"guest_access"`
	}
	content("m.room.guest_access", &ga)
	pr.GuestCanJoin = ga.GuestAccess == "can_join"
	for k, e := range r.state {
		if k.Type != spec.MRoomMember {
			continue
		}
		if m, err := e.pdu.Membership(); err == nil && m == spec.Join {
			pr.NumJoinedMembers++
		}
	}
	return pr
}

func matchesTypes(roomType string, types []*string) bool {
	if len(types) == 0 {
		return true
	}
	for _, t := range types {
		if (t == nil && roomType == "") || (t != nil && *t == roomType) {
			return true
		}
	}
	return false
}

// matchesTerm reports whether a lower-cased search term occurs in the room's
// name, topic, canonical alias or ID, ignoring case.
func matchesTerm(pr api.PublicRoom, term string) bool {
	if term == "" {
		return true
	}
	for _, s := range []string{pr.Name, pr.Topic, pr.CanonicalAlias, pr.RoomID} {
		if strings.Contains(strings.ToLower(s), term) {
			return true
		}
	}
	return false
}
