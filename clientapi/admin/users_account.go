package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// POST /_synapse/admin/v1/deactivate/{userId} {"erase": bool}: the
// account's tokens, devices, password, 3PIDs, profile and account data go
// (the user API's Deactivate), it leaves every room it is joined to, as
// Synapse's does, and with erase it is marked erased (docs/decisions.md,
// "Erasing a user").
func (a *Admin) deactivate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	local, userID, err := a.targetUser(r)
	if err != nil {
		return err
	}
	var req struct {
		Erase bool `json:"erase"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if err := a.deactivateUser(r.Context(), local, userID, req.Erase); err != nil {
		return err
	}
	if req.Erase {
		c.Note("erased")
	}
	// No identity server is ever bound, so there is nothing to unbind.
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"id_server_unbind_result": "no-support"})
	return nil
}

// deactivateUser deactivates an account first (so nothing more can be
// done with it), then marks it erased and takes it out of its rooms. Each
// step may be repeated, so a request that failed half-way can be sent again.
func (a *Admin) deactivateUser(ctx context.Context, local userapi.Localpart, userID string, erase bool) error {
	if err := a.d.Users.Deactivate(ctx, local); err != nil {
		return noUser(err)
	}
	if erase {
		if err := a.d.Users.Erase(ctx, local); err != nil {
			return noUser(err)
		}
	}
	rooms, err := a.d.Rooms.JoinedRooms(ctx, userID)
	if err != nil {
		return err
	}
	for _, room := range rooms {
		_, err := a.d.Rooms.PerformMembership(ctx, roomapi.MembershipRequest{
			RoomID: room, Sender: userID, Target: userID, Membership: "leave",
		})
		if err != nil {
			return fmt.Errorf("admin: leaving %s: %w", room, err)
		}
	}
	return nil
}

// POST /_synapse/admin/v1/reset_password/{userId}
// {"new_password", "logout_devices" (default true)}
func (a *Admin) resetPassword(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	local, _, err := a.targetUser(r)
	if err != nil {
		return err
	}
	var req struct {
		NewPassword   *string `json:"new_password"`
		LogoutDevices *bool   `json:"logout_devices"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.NewPassword == nil || *req.NewPassword == "" {
		return httputil.MissingParam("Missing param new_password")
	}
	if len(*req.NewPassword) > maxPassword {
		return httputil.InvalidParam("Password is longer than %d bytes", maxPassword)
	}
	logout := req.LogoutDevices == nil || *req.LogoutDevices
	if err := a.d.Users.SetPassword(r.Context(), local, *req.NewPassword, logout, ""); err != nil {
		return noUser(err)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// GET /_synapse/admin/v1/whois/{userId}
func (a *Admin) whois(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	return a.writeWhois(w, r)
}

// writeWhois answers a whois (spec: GET /admin/whois/{userId}): one
// session per device, its one connection the device's last seen.
func (a *Admin) writeWhois(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	devices, err := a.d.Users.Devices(r.Context(), acct.Localpart)
	if err != nil {
		return err
	}
	out := make(map[string]any, len(devices))
	for _, d := range devices {
		conn := map[string]any{"ip": d.LastSeenIP, "last_seen": d.LastSeenTS, "user_agent": d.UserAgent}
		out[string(d.ID)] = map[string]any{"sessions": []any{map[string]any{"connections": []any{conn}}}}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"user_id": acct.UserID, "devices": out})
	return nil
}

// GET /_matrix/client/v3/admin/whois/{userId}: a server admin may look up
// anyone, a user themself (spec: "Server Administration").
func (a *Admin) specWhois(w http.ResponseWriter, r *http.Request) error {
	dev, err := userapi.Authenticate(r.Context(), a.d.Users, httputil.AccessToken(r))
	if err != nil {
		return err
	}
	if dev.UserID != httputil.Vars(r)["userId"] {
		if _, err := a.authorise(r); err != nil {
			return err
		}
	}
	return a.writeWhois(w, r)
}

// POST /_synapse/admin/v1/users/{userId}/login {"valid_until_ms"}: an
// access token of the user for support. Synapse refuses an admin's login
// as themself; Myelin gives the token a device of its own, which the user
// sees in their device list (docs/decisions.md), and the audit entry
// names it.
func (a *Admin) loginAsUser(w http.ResponseWriter, r *http.Request, c *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	if acct.UserID == c.Device.UserID {
		return httputil.BadRequestUnknown("Cannot use admin API to login as self")
	}
	if acct.Deactivated {
		return httputil.BadRequestUnknown("Cannot log in as a deactivated user")
	}
	var req struct {
		ValidUntilMs *int64 `json:"valid_until_ms"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	sreq := userapi.NewSessionRequest{Localpart: acct.Localpart, IP: httputil.ClientIP(r), UserAgent: r.UserAgent()}
	if req.ValidUntilMs != nil {
		if *req.ValidUntilMs <= time.Now().UnixMilli() {
			return httputil.InvalidParam("valid_until_ms is in the past")
		}
		sreq.ExpiresTS = *req.ValidUntilMs
	}
	sess, err := a.d.Users.NewSession(r.Context(), sreq)
	if err != nil {
		return err
	}
	c.Note("device " + string(sess.Device.ID))
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"access_token": sess.AccessToken})
	return nil
}
