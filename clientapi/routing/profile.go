package routing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"unicode/utf8"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// profileKeyRe is the keyName grammar of spec v1.16 profile fields.
var profileKeyRe = regexp.MustCompile(`^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$`)

// stringFields are the profile fields whose value must be a string.
var stringFields = map[string]bool{"displayname": true, "avatar_url": true, "m.tz": true}

// localUser parses a user ID from the path and returns its localpart when it
// is a user of this server; isLocal is false for a remote user. A malformed ID
// is 400 M_INVALID_PARAM.
func (rt *Routes) localUser(userID string) (l api.Localpart, isLocal bool, err error) {
	local, server, err := mxid.ParseUserID(userID)
	if err != nil {
		return "", false, invalidParam(err)
	}
	return api.Localpart(local), server == rt.opts.ServerName, nil
}

// profileOf loads a local user's profile: 404 when the user does not exist or
// is deactivated. Remote users' profiles are asked of their server.
func (rt *Routes) profileOf(r *http.Request, userID string) (map[string]json.RawMessage, error) {
	l, local, err := rt.localUser(userID)
	if err != nil {
		return nil, err
	}
	if !local {
		if rt.opts.RemoteProfiles == nil {
			return nil, httputil.NotFound("Profile not found")
		}
		p, err := rt.opts.RemoteProfiles.RemoteProfile(r.Context(), userID)
		switch {
		case err == nil:
			return p, nil
		case errors.Is(err, fedapi.ErrRemoteNotFound):
			return nil, httputil.NotFound("Profile not found")
		default:
			httputil.Logger(r.Context()).WithError(err).Info("remote profile unavailable")
			return nil, (&httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN",
				Message: "The user's server could not be reached"})
		}
	}
	acct, err := rt.users.Account(r.Context(), l)
	if errors.Is(err, api.ErrNoSuchAccount) && rt.queryAppServiceUser(r.Context(), userID) {
		acct, err = rt.users.Account(r.Context(), l)
	}
	if errors.Is(err, api.ErrNoSuchAccount) || (err == nil && acct.Deactivated) {
		return nil, httputil.NotFound("Profile not found")
	}
	if err != nil {
		return nil, err
	}
	return rt.users.Profile(r.Context(), l)
}

// GET /v3/profile/{userId}
func (rt *Routes) getProfile(w http.ResponseWriter, r *http.Request) error {
	p, err := rt.profileOf(r, httputil.Vars(r)["userId"])
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, p)
	return nil
}

func checkProfileKey(key string) error {
	if len(key) > 255 {
		return httputil.KeyTooLarge("Profile key is longer than 255 bytes")
	}
	if !profileKeyRe.MatchString(key) {
		return httputil.InvalidParam("Invalid profile key %q", key)
	}
	return nil
}

// GET /v3/profile/{userId}/{keyName}
func (rt *Routes) getProfileField(w http.ResponseWriter, r *http.Request) error {
	v := httputil.Vars(r)
	if err := checkProfileKey(v["keyName"]); err != nil {
		return err
	}
	p, err := rt.profileOf(r, v["userId"])
	if err != nil {
		return err
	}
	val, ok := p[v["keyName"]]
	if !ok {
		return httputil.NotFound("Profile field not found")
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]json.RawMessage{v["keyName"]: val})
	return nil
}

// maxAvatarURLLength bounds avatar_url in characters, as Synapse does;
// spec v1.16 "PUT /profile/{userId}/{keyName}": servers MAY limit fields.
const maxAvatarURLLength = 1000

// checkProfileValue checks the value of one of the fields the spec types:
// displayname, avatar_url and m.tz are strings, and an avatar_url fits in a
// member event. Custom fields take any JSON.
func checkProfileValue(key string, val json.RawMessage) error {
	if !stringFields[key] {
		return nil
	}
	var s string
	if err := json.Unmarshal(val, &s); err != nil {
		return httputil.BadJSON("%s must be a string", key)
	}
	// NOTSPEC: the spec says avatar_url MUST be an MXC URI; Myelin takes
	// any string, as Synapse and Dendrite do (clients and Complement's
	// TestAvatarUrlUpdate set other ones), and clients only load mxc:// ones.
	if key == "avatar_url" && utf8.RuneCountInString(s) > maxAvatarURLLength {
		return httputil.InvalidParam("avatar_url is longer than %d characters", maxAvatarURLLength)
	}
	return nil
}

// ownProfile checks that the path's user is the requester (403 otherwise).
func (rt *Routes) ownProfile(r *http.Request, dev *api.Device) error {
	if _, _, err := rt.localUser(httputil.Vars(r)["userId"]); err != nil {
		return err
	}
	if httputil.Vars(r)["userId"] != dev.UserID {
		return httputil.Forbidden("You cannot change another user's profile")
	}
	return nil
}

// PUT /v3/profile/{userId}/{keyName}
func (rt *Routes) setProfileField(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	key := httputil.Vars(r)["keyName"]
	if err := checkProfileKey(key); err != nil {
		return err
	}
	if err := rt.ownProfile(r, dev); err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := httputil.ReadJSON(r, &body); err != nil {
		return err
	}
	val, ok := body[key]
	if !ok {
		return httputil.MissingParam("Missing property %q in the request body", key)
	}
	if string(val) == "null" {
		// A null display name or avatar clears it, as Synapse allows.
		if err := rt.users.DeleteProfileField(r.Context(), dev.Localpart, key); err != nil {
			return err
		}
		rt.profileToRooms(r.Context(), dev, key)
		httputil.WriteJSON(w, http.StatusOK, struct{}{})
		return nil
	}
	if err := checkProfileValue(key, val); err != nil {
		return err
	}
	if err := rt.users.SetProfileField(r.Context(), dev.Localpart, key, val); err != nil {
		return err
	}
	rt.profileToRooms(r.Context(), dev, key)
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// profileToRooms carries a new display name or avatar into the user's
// member events in every room they are joined to, as clients show names
// from there (spec: "Events on Change of Profile Information"). Best
// effort: a room that refuses is logged and skipped.
func (rt *Routes) profileToRooms(ctx context.Context, dev *api.Device, key string) {
	if key != "displayname" && key != "avatar_url" {
		return
	}
	log := httputil.Logger(ctx)
	rooms, err := rt.rooms.JoinedRooms(ctx, dev.UserID)
	if err != nil {
		log.WithError(err).Warn("profile change: listing rooms")
		return
	}
	name, avatar := rt.profileOfDevice(ctx, dev)
	for _, roomID := range rooms {
		_, err := rt.rooms.PerformMembership(ctx, roomapi.MembershipRequest{RoomID: roomID, Sender: dev.UserID, Target: dev.UserID,
			Membership: "join", DisplayName: name, AvatarURL: avatar})
		if err != nil {
			log.WithError(err).WithField("room_id", roomID).Info("profile change: member event not sent")
		}
	}
}

// DELETE /v3/profile/{userId}/{keyName}
func (rt *Routes) deleteProfileField(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	key := httputil.Vars(r)["keyName"]
	if err := checkProfileKey(key); err != nil {
		return err
	}
	if err := rt.ownProfile(r, dev); err != nil {
		return err
	}
	if err := rt.users.DeleteProfileField(r.Context(), dev.Localpart, key); err != nil {
		return err
	}
	rt.profileToRooms(r.Context(), dev, key)
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}
