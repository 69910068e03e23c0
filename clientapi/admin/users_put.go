package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// maxPassword is the longest password accepted, as the client API's.
const maxPassword = 512

// putUserRequest is the body of PUT /_synapse/admin/v2/users/{userId}.
// Myelin binds phone numbers only after an SMS check and has no SSO, so
// threepids and external_ids are accepted and ignored (tools send back
// the whole user object), as is user_type (docs/decisions.md).
type putUserRequest struct {
	Password      *string `json:"password"`
	LogoutDevices *bool   `json:"logout_devices"`
	DisplayName   *string `json:"displayname"`
	AvatarURL     *string `json:"avatar_url"`
	Admin         *bool   `json:"admin"`
	Deactivated   *bool   `json:"deactivated"`
	Locked        *bool   `json:"locked"`
}

func (q *putUserRequest) validate() error {
	if q.Password != nil && len(*q.Password) > maxPassword {
		return httputil.InvalidParam("Password is longer than %d bytes", maxPassword)
	}
	if q.AvatarURL != nil && *q.AvatarURL != "" && !strings.HasPrefix(*q.AvatarURL, "mxc://") {
		return httputil.InvalidParam("avatar_url must be an MXC URI")
	}
	return nil
}

// PUT /_synapse/admin/v2/users/{userId}: Synapse's Create or modify
// account, 201 when it created the account, 200 when it changed one, with
// the user object either way.
func (a *Admin) putUser(w http.ResponseWriter, r *http.Request, c *Caller) error {
	local, userID, err := a.targetUser(r)
	if err != nil {
		return err
	}
	var req putUserRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	status := http.StatusOK
	_, err = a.d.Users.Account(r.Context(), local)
	switch {
	case errors.Is(err, userapi.ErrNoSuchAccount):
		status = http.StatusCreated
		err = a.createUser(r.Context(), local, userID, &req)
	case err == nil:
		err = a.modifyUser(r.Context(), local, userID, c, &req)
	}
	if err != nil {
		return err
	}
	acct, err := a.d.Users.AccountSummary(r.Context(), local)
	if err != nil {
		return noUser(err)
	}
	out, err := a.fullUserJSON(r, acct)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, status, out)
	return nil
}

// createUser makes the account, then applies what creation does not set.
func (a *Admin) createUser(ctx context.Context, local userapi.Localpart, userID string, req *putUserRequest) error {
	if mxid.ValidateLocalpart(string(local)) != nil || len(userID) > 255 {
		return httputil.InvalidUsername("User ID can only contain characters a-z, 0-9, or '._=-/+'")
	}
	create := userapi.CreateAccountRequest{Localpart: local, IsAdmin: req.Admin != nil && *req.Admin}
	if req.Password != nil {
		create.Password = *req.Password
	}
	if req.DisplayName != nil {
		create.DisplayName = *req.DisplayName
	}
	if _, err := a.d.Users.CreateAccount(ctx, create); err != nil {
		return err
	}
	req.Password, req.Admin, req.DisplayName = nil, nil, nil
	if req.Deactivated != nil && !*req.Deactivated {
		req.Deactivated = nil
	}
	return a.applyUserChanges(ctx, local, userID, req)
}

// modifyUser applies a PUT to an existing account: a deactivated account
// is reactivated only with a password (Synapse: its hash was wiped).
func (a *Admin) modifyUser(ctx context.Context, local userapi.Localpart, userID string, c *Caller, req *putUserRequest) error {
	acct, err := a.d.Users.Account(ctx, local)
	if err != nil {
		return noUser(err)
	}
	if req.Deactivated != nil && *req.Deactivated == acct.Deactivated {
		req.Deactivated = nil // no change
	}
	if req.Deactivated != nil && !*req.Deactivated {
		if req.Password == nil || *req.Password == "" {
			return httputil.BadRequestUnknown("Must provide a password to re-activate an account.")
		}
		if err := a.d.Users.Reactivate(ctx, local, *req.Password); err != nil {
			return noUser(err)
		}
		req.Password, req.Deactivated = nil, nil
	}
	if req.Admin != nil && !*req.Admin && userID == c.Device.UserID {
		return httputil.BadRequestUnknown("You may not demote yourself.")
	}
	return a.applyUserChanges(ctx, local, userID, req)
}

// applyUserChanges makes each change the request asks for, each durable
// before the next; deactivation comes last.
func (a *Admin) applyUserChanges(ctx context.Context, local userapi.Localpart, userID string, req *putUserRequest) error {
	if req.Password != nil {
		logout := req.LogoutDevices == nil || *req.LogoutDevices
		if err := a.d.Users.SetPassword(ctx, local, *req.Password, logout, ""); err != nil {
			return noUser(err)
		}
	}
	for key, v := range map[string]*string{"displayname": req.DisplayName, "avatar_url": req.AvatarURL} {
		if err := a.setProfileString(ctx, local, key, v); err != nil {
			return err
		}
	}
	if req.DisplayName != nil || req.AvatarURL != nil {
		a.profileToRooms(ctx, local, userID)
	}
	if req.Admin != nil {
		if err := a.d.Users.SetAdmin(ctx, local, *req.Admin); err != nil {
			return noUser(err)
		}
	}
	if req.Locked != nil {
		if err := a.d.Users.SetLocked(ctx, local, *req.Locked); err != nil {
			return noUser(err)
		}
	}
	if req.Deactivated != nil && *req.Deactivated {
		return a.deactivateUser(ctx, local, userID, false)
	}
	return nil
}

// setProfileString sets a string profile field; "" removes it, nil keeps it.
func (a *Admin) setProfileString(ctx context.Context, local userapi.Localpart, key string, v *string) error {
	switch {
	case v == nil:
		return nil
	case *v == "":
		return a.d.Users.DeleteProfileField(ctx, local, key)
	}
	b, err := json.Marshal(*v)
	if err != nil {
		return err
	}
	return a.d.Users.SetProfileField(ctx, local, key, b)
}

// profileToRooms carries the user's new name and avatar into their member
// events, as the client API's profile change does (spec: "Events on
// Change of Profile Information"). Best effort: a room that refuses is
// logged and skipped.
func (a *Admin) profileToRooms(ctx context.Context, local userapi.Localpart, userID string) {
	log := httputil.Logger(ctx)
	profile, err := a.d.Users.Profile(ctx, local)
	if err != nil {
		log.WithError(err).Warn("admin: profile change: reading the profile")
		return
	}
	var name, avatar string
	_ = json.Unmarshal(profile["displayname"], &name)
	_ = json.Unmarshal(profile["avatar_url"], &avatar)
	rooms, err := a.d.Rooms.JoinedRooms(ctx, userID)
	if err != nil {
		log.WithError(err).Warn("admin: profile change: listing rooms")
		return
	}
	for _, room := range rooms {
		_, err := a.d.Rooms.PerformMembership(ctx, roomapi.MembershipRequest{RoomID: room, Sender: userID, Target: userID,
			Membership: "join", DisplayName: name, AvatarURL: avatar})
		if err != nil {
			log.WithError(err).WithField(httputil.FieldRoomID, room).Info("admin: profile change: member event not sent")
		}
	}
}
