package routing

import (
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/clientapi/auth"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// GET /v3/login
func (rt *Routes) loginFlows(w http.ResponseWriter, r *http.Request) error {
	flows := []map[string]string{{"type": auth.StagePassword}, {"type": auth.LoginMsisdn}}
	if len(rt.appServices().All()) > 0 {
		flows = append(flows, map[string]string{"type": loginAppService})
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"flows": flows})
	return nil
}

type loginRequest struct {
	Type                     string           `json:"type"`
	Identifier               *auth.Identifier `json:"identifier"`
	User                     string           `json:"user"`
	Password                 string           `json:"password"`
	DeviceID                 string           `json:"device_id"`
	InitialDeviceDisplayName *string          `json:"initial_device_display_name"`
	RefreshToken             bool             `json:"refresh_token"`
	// im.myelin.login.msisdn: a login verification session, and its code
	// when it has not been submitted at submit_url.
	SID          string `json:"sid"`
	ClientSecret string `json:"client_secret"`
	Token        string `json:"token"`
}

// POST /v3/login
func (rt *Routes) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if err := checkDeviceFields(req.DeviceID, req.InitialDeviceDisplayName); err != nil {
		return err
	}
	switch req.Type {
	case auth.StagePassword:
		return rt.loginPassword(w, r, &req)
	case auth.LoginMsisdn:
		return rt.loginMsisdn(w, r, &req)
	case loginAppService:
		return rt.loginAppService(w, r, &req)
	case "":
		return httputil.MissingParam("Missing login type")
	}
	return httputil.BadRequestUnknown("Unknown login type %q", req.Type)
}

// loginPassword logs in with m.login.password.
func (rt *Routes) loginPassword(w http.ResponseWriter, r *http.Request, req *loginRequest) error {
	localpart, err := rt.identifierLocalpart(r.Context(), req.Identifier, req.User)
	if err != nil {
		return err
	}
	ip := httputil.ClientIP(r)
	// Failed attempts are limited per user and per address; a successful login
	// costs nothing, so a user who knows the password is never locked out by
	// someone guessing from elsewhere longer than the bucket takes to refill.
	if ok, wait := rt.loginByUser.Peek(string(localpart)); !ok {
		return httputil.LimitExceeded(wait.Milliseconds() + 1)
	}
	if ok, wait := rt.loginByIP.Peek(ip); !ok {
		return httputil.LimitExceeded(wait.Milliseconds() + 1)
	}
	acct, err := rt.users.CheckPassword(r.Context(), localpart, req.Password)
	if errors.Is(err, api.ErrBadPassword) {
		rt.loginByUser.Allow(string(localpart))
		rt.loginByIP.Allow(ip)
	}
	if err != nil {
		return err
	}
	return rt.startSession(w, r, acct.UserID, api.NewSessionRequest{
		Localpart: acct.Localpart, DeviceID: api.DeviceID(req.DeviceID), DisplayName: req.InitialDeviceDisplayName,
		IP: ip, UserAgent: r.UserAgent(), Refreshable: req.RefreshToken,
	})
}

// loginMsisdn logs in with im.myelin.login.msisdn: a verification session
// for a bound number, validated at submit_url or by the token given here.
// The session is used up.
func (rt *Routes) loginMsisdn(w http.ResponseWriter, r *http.Request, req *loginRequest) error {
	if req.SID == "" || req.ClientSecret == "" {
		return httputil.MissingParam("sid and client_secret are required")
	}
	ctx := r.Context()
	if req.Token != "" {
		if err := rt.users.SubmitMsisdnToken(ctx, req.SID, req.ClientSecret, req.Token); err != nil {
			return err
		}
	}
	msisdn, err := rt.users.ValidatedMsisdn(ctx, req.SID, req.ClientSecret, api.MsisdnLogin)
	if err != nil {
		return err
	}
	owner, err := rt.users.ThreepidOwner(ctx, api.MediumMSISDN, string(msisdn))
	if err != nil {
		return err
	}
	acct, err := rt.users.Account(ctx, owner)
	if err != nil {
		return err
	}
	if acct.Deactivated {
		return api.ErrDeactivated
	}
	if err := rt.users.EndMsisdnSession(ctx, req.SID); err != nil {
		return err
	}
	return rt.startSession(w, r, acct.UserID, api.NewSessionRequest{
		Localpart: acct.Localpart, DeviceID: api.DeviceID(req.DeviceID), DisplayName: req.InitialDeviceDisplayName,
		IP: httputil.ClientIP(r), UserAgent: r.UserAgent(), Refreshable: req.RefreshToken,
	})
}

// POST /v3/logout
func (rt *Routes) logout(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	if err := rt.users.Logout(r.Context(), dev.Localpart, dev.ID); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// POST /v3/logout/all
func (rt *Routes) logoutAll(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	if err := rt.users.LogoutAll(r.Context(), dev.Localpart); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// POST /v3/refresh
func (rt *Routes) refresh(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return httputil.MissingParam("Missing refresh_token")
	}
	s, err := rt.users.Refresh(r.Context(), req.RefreshToken)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": s.AccessToken, "refresh_token": s.RefreshToken, "expires_in_ms": s.ExpiresInMs,
	})
	return nil
}

// GET /v3/account/whoami
func (rt *Routes) whoami(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"user_id": dev.UserID, "device_id": dev.ID, "is_guest": false})
	return nil
}
