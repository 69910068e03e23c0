package routing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// The friends extension (im.myelin.friends, docs/api-extensions.md
// "Friends"): a product view of direct rooms. A request is a direct room
// inviting the user, accepting it is joining, a friend is someone joined
// with the user in such a room (friends_list.go). Plain Matrix clients do
// the same with createRoom, /join and m.direct, and the two views agree.

// presetTrustedPrivateChat is the preset of a friend request's room (spec:
// createRoom: the invitee gets the creator's power).
const presetTrustedPrivateChat = "trusted_private_chat"

func (rt *Routes) setupFriends(p prefixed) {
	p.Handle("/friends", rt.authed(rt.listFriends)).Methods(http.MethodGet)
	p.Handle("/friends/requests", rt.authed(rt.listFriendRequests)).Methods(http.MethodGet)
	p.Handle("/friends/requests", rt.unlessSuspended(rt.requestFriend)).Methods(http.MethodPost)
	p.Handle("/friends/requests/{roomId}/accept", rt.unlessSuspended(rt.acceptFriend)).Methods(http.MethodPost)
	p.Handle("/friends/requests/{roomId}/reject", rt.authed(rt.rejectFriend)).Methods(http.MethodPost)
	p.Handle("/friends/{userId}", rt.authed(rt.deleteFriend)).Methods(http.MethodDelete)
}

// GET /_matrix/client/unstable/im.myelin/friends
func (rt *Routes) listFriends(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	fs, err := rt.friendsOf(r.Context(), dev)
	if err != nil {
		return err
	}
	if fs == nil {
		fs = []*friend{}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"friends": fs})
	return nil
}

// friendRequest is one entry of GET friends/requests: for an incoming
// request UserID is who asked, for an outgoing one who was asked.
type friendRequest struct {
	RoomID  string        `json:"room_id"`
	UserID  string        `json:"user_id"`
	Profile friendProfile `json:"profile"`
	Message string        `json:"message,omitempty"`
	TS      int64         `json:"ts"`
}

// GET /_matrix/client/unstable/im.myelin/friends/requests
func (rt *Routes) listFriendRequests(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	ctx := r.Context()
	in, out, err := rt.rooms.DirectInvites(ctx, dev.UserID)
	if err != nil {
		return err
	}
	ignored, err := api.IgnoredUsers(ctx, rt.users, dev.Localpart)
	if err != nil {
		return err
	}
	// Spec ("Ignoring Users"): invites from ignored users are not sent to
	// the client.
	in = deleteInvites(in, func(d roomapi.DirectInvite) bool { return ignored[d.Sender] })
	incoming := make([]*friendRequest, len(in))
	for i, d := range in {
		incoming[i] = &friendRequest{RoomID: d.RoomID, UserID: d.Sender, Message: d.Reason, TS: d.TS}
	}
	outgoing := make([]*friendRequest, len(out))
	for i, d := range out {
		outgoing[i] = &friendRequest{RoomID: d.RoomID, UserID: d.Invitee, Message: d.Reason, TS: d.TS}
	}
	if err := rt.fillRequestProfiles(ctx, append(append([]*friendRequest(nil), incoming...), outgoing...)); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"incoming": incoming, "outgoing": outgoing})
	return nil
}

func deleteInvites(ds []roomapi.DirectInvite, drop func(roomapi.DirectInvite) bool) []roomapi.DirectInvite {
	out := ds[:0]
	for _, d := range ds {
		if !drop(d) {
			out = append(out, d)
		}
	}
	return out
}

// fillRequestProfiles gives each request the other user's profile: local
// users' from one batch, other servers' users' from their membership of the
// room when this server has it, else (an invite to a room this server is
// not in yet) from their server, within remoteProfileBudget for all.
func (rt *Routes) fillRequestProfiles(ctx context.Context, reqs []*friendRequest) error {
	fs := make([]*friend, len(reqs))
	remoteCtx, cancel := context.WithTimeout(ctx, remoteProfileBudget)
	defer cancel()
	for i, q := range reqs {
		fs[i] = &friend{UserID: q.UserID}
		if _, local := api.LocalpartOf(q.UserID, rt.opts.ServerName); !local {
			fs[i].Profile = rt.memberProfile(ctx, q.RoomID, q.UserID)
			if fs[i].Profile == (friendProfile{}) {
				fs[i].Profile = rt.remoteProfile(remoteCtx, q.UserID)
			}
		}
	}
	if err := rt.fillLocalProfiles(ctx, fs); err != nil {
		return err
	}
	for i, q := range reqs {
		q.Profile = fs[i].Profile
	}
	return nil
}

// remoteProfileBudget bounds the time GET friends/requests spends asking
// other servers for profiles.
const remoteProfileBudget = 3 * time.Second

// remoteProfile asks a user's server for their profile (empty when there
// is no federation here or the server does not answer in time).
func (rt *Routes) remoteProfile(ctx context.Context, userID string) friendProfile {
	if rt.opts.RemoteProfiles == nil || ctx.Err() != nil {
		return friendProfile{}
	}
	fields, err := rt.opts.RemoteProfiles.RemoteProfile(ctx, userID)
	if err != nil {
		httputil.Logger(ctx).WithError(err).WithField("target_user_id", userID).Debug("friend request: no remote profile")
		return friendProfile{}
	}
	return profileOf(fields)
}

// memberProfile is the display name and avatar of a user's membership
// event in a room (empty when this server does not have it).
func (rt *Routes) memberProfile(ctx context.Context, roomID, userID string) friendProfile {
	ev, err := rt.rooms.StateEvent(ctx, roomID, "m.room.member", userID)
	if err != nil {
		return friendProfile{}
	}
	var pdu struct {
		Content friendProfile `json:"content"`
	}
	_ = json.Unmarshal(ev.PDU, &pdu)
	return friendProfile{DisplayName: pdu.Content.DisplayName, AvatarURL: pdu.Content.AvatarURL}
}

// POST /_matrix/client/unstable/im.myelin/friends/requests
func (rt *Routes) requestFriend(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		UserID  string `json:"user_id"`
		Message string `json:"message"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if err := rt.checkFriendTarget(ctx, dev, req.UserID); err != nil {
		return err
	}
	roomID, pending, err := rt.existingRequest(ctx, dev, req.UserID)
	if err != nil {
		return err
	}
	switch pending {
	case requestIncoming:
		// They asked first: asking them back accepts their request, rather
		// than leaving two rooms each waiting for the other.
		if err := rt.joinInvited(ctx, dev, roomapi.DirectInvite{RoomID: roomID, Sender: req.UserID}); err != nil {
			return err
		}
	case requestNone:
		if roomID, err = rt.createRequestRoom(ctx, dev, req.UserID, req.Message); err != nil {
			return err
		}
	}
	if err := rt.updateDirect(ctx, dev.Localpart, func(d directMap) bool { return d.add(req.UserID, roomID) }); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"room_id": roomID, "user_id": req.UserID})
	return nil
}

// checkFriendTarget refuses a request to no one, oneself, a malformed user
// ID, or a local user who does not exist (404, as GET /profile answers).
func (rt *Routes) checkFriendTarget(ctx context.Context, dev *api.Device, userID string) error {
	if userID == "" {
		return httputil.MissingParam("Missing user_id")
	}
	if err := checkUserID(userID); err != nil {
		return err
	}
	if userID == dev.UserID {
		return httputil.InvalidParam("You cannot be your own friend")
	}
	lp, local := api.LocalpartOf(userID, rt.opts.ServerName)
	if !local {
		return nil
	}
	acc, err := rt.users.Account(ctx, lp)
	if errors.Is(err, api.ErrNoSuchAccount) || (err == nil && acc.Deactivated) {
		return httputil.NotFound("User %s not found", userID)
	}
	return err
}

// Kinds of pending request between two users.
type pendingRequest int

const (
	requestNone     pendingRequest = iota
	requestOutgoing                // the requester already asked the user
	requestIncoming                // the user already asked the requester
)

// existingRequest refuses a request to a friend and finds a pending request
// between the two users, either way.
func (rt *Routes) existingRequest(ctx context.Context, dev *api.Device, userID string) (string, pendingRequest, error) {
	fs, err := rt.friendsOf(ctx, dev)
	if err != nil {
		return "", requestNone, err
	}
	for _, f := range fs {
		if f.UserID == userID {
			return "", requestNone, httputil.InvalidParam("You are already friends with %s", userID)
		}
	}
	in, out, err := rt.rooms.DirectInvites(ctx, dev.UserID)
	if err != nil {
		return "", requestNone, err
	}
	for _, d := range out {
		if d.Invitee == userID {
			return d.RoomID, requestOutgoing, nil
		}
	}
	for _, d := range in {
		if d.Sender == userID {
			return d.RoomID, requestIncoming, nil
		}
	}
	return "", requestNone, nil
}

// createRequestRoom creates the request's direct room. An invite to another
// server's user that its server refuses (no such user) or that cannot be
// delivered leaves the room behind: the requester leaves and forgets it,
// and the request fails with 404.
func (rt *Routes) createRequestRoom(ctx context.Context, dev *api.Device, userID, message string) (string, error) {
	name, avatar := rt.profileOfDevice(ctx, dev)
	roomID, err := rt.rooms.CreateRoom(ctx, roomapi.CreateRoomRequest{
		Creator: dev.UserID, Preset: presetTrustedPrivateChat, Invite: []string{userID}, IsDirect: true,
		InviteReason: message, CreatorDisplayName: name, CreatorAvatarURL: avatar,
	})
	if err != nil {
		return "", err
	}
	m, err := rt.rooms.Membership(ctx, roomID, userID)
	if err != nil {
		return "", err
	}
	if m == "invite" {
		return roomID, nil
	}
	log := httputil.Logger(ctx).WithField("room_id", roomID).WithField("target_user_id", userID)
	log.Info("friend request: the invite did not reach the user; leaving the room")
	if _, err := rt.rooms.PerformMembership(ctx, roomapi.MembershipRequest{
		RoomID: roomID, Sender: dev.UserID, Target: dev.UserID, Membership: "leave",
	}); err != nil {
		log.WithError(err).Warn("friend request: leaving the failed request's room")
	} else if err := rt.rooms.Forget(ctx, roomID, dev.UserID); err != nil {
		log.WithError(err).Warn("friend request: forgetting the failed request's room")
	}
	return "", httputil.NotFound("Could not invite %s: their server refused or could not be reached", userID)
}

// pendingRequestFrom finds the pending request to the user in a room.
func (rt *Routes) pendingRequestFrom(r *http.Request, dev *api.Device) (roomapi.DirectInvite, error) {
	roomID := httputil.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return roomapi.DirectInvite{}, err
	}
	in, _, err := rt.rooms.DirectInvites(r.Context(), dev.UserID)
	if err != nil {
		return roomapi.DirectInvite{}, err
	}
	for _, d := range in {
		if d.RoomID == roomID {
			return d, nil
		}
	}
	return roomapi.DirectInvite{}, httputil.NotFound("No pending friend request in %s", roomID)
}

// POST /_matrix/client/unstable/im.myelin/friends/requests/{roomId}/accept
func (rt *Routes) acceptFriend(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	d, err := rt.pendingRequestFrom(r, dev)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := rt.joinInvited(ctx, dev, d); err != nil {
		return err
	}
	if err := rt.updateDirect(ctx, dev.Localpart, func(m directMap) bool { return m.add(d.Sender, d.RoomID) }); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"room_id": d.RoomID, "user_id": d.Sender})
	return nil
}

// joinInvited joins the room of an invite: here when this server is in
// the room, else through the inviter's server (as POST /join does).
func (rt *Routes) joinInvited(ctx context.Context, dev *api.Device, d roomapi.DirectInvite) error {
	_, server, _ := strings.Cut(d.Sender, ":")
	return rt.joinAs(ctx, dev, d.RoomID, []string{server}, "", nil)
}

// POST /_matrix/client/unstable/im.myelin/friends/requests/{roomId}/reject
func (rt *Routes) rejectFriend(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	d, err := rt.pendingRequestFrom(r, dev)
	if err != nil {
		return err
	}
	if err := rt.leave(r.Context(), dev, d.RoomID); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// leave leaves a room or rejects an invite to it, through the inviting
// server when this server is not in the room.
func (rt *Routes) leave(ctx context.Context, dev *api.Device, roomID string) error {
	_, err := rt.rooms.PerformMembership(ctx, roomapi.MembershipRequest{
		RoomID: roomID, Sender: dev.UserID, Target: dev.UserID, Membership: "leave",
	})
	notHere := errors.Is(err, roomapi.ErrRoomNotFound) || errors.Is(err, roomapi.ErrNotInRoom)
	if !notHere || rt.opts.RemoteRooms == nil {
		return err
	}
	if err := rt.opts.RemoteRooms.LeaveRemote(ctx, roomID, dev.UserID); err != nil {
		httputil.Logger(ctx).WithError(err).Info("rejecting a remote friend request failed")
		return httputil.NotFound("Unknown room")
	}
	return nil
}

// DELETE /_matrix/client/unstable/im.myelin/friends/{userId}
func (rt *Routes) deleteFriend(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	userID := httputil.Vars(r)["userId"]
	if err := checkUserID(userID); err != nil {
		return err
	}
	ctx := r.Context()
	fs, err := rt.friendsOf(ctx, dev)
	if err != nil {
		return err
	}
	var rooms []string
	for _, f := range fs {
		if f.UserID == userID {
			rooms = f.Rooms
		}
	}
	if len(rooms) == 0 {
		return httputil.NotFound("%s is not your friend", userID)
	}
	for _, roomID := range rooms {
		if err := rt.leave(ctx, dev, roomID); err != nil {
			return err
		}
	}
	if err := rt.updateDirect(ctx, dev.Localpart, func(d directMap) bool { return d.remove(rooms) }); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"left": rooms})
	return nil
}
