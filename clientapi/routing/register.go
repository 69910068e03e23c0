package routing

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"

	"github.com/myelin-im/myelin/clientapi/auth"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	"github.com/myelin-im/myelin/userapi/api"
)

// maxPasswordLength bounds passwords so hashing cost stays bounded.
const maxPasswordLength = 512

// validateLocalpart checks a requested localpart: M_INVALID_USERNAME when it
// breaks the grammar or makes a user ID over 255 bytes.
func (rt *Routes) validateLocalpart(l string) error {
	switch {
	case l == "":
		return httputil.InvalidUsername("User ID cannot be empty")
	case mxid.ValidateLocalpart(l) != nil: // spec appendices, "User Identifiers"
		return httputil.InvalidUsername("User ID can only contain characters a-z, 0-9, or '._=-/+'")
	case l[0] == '_':
		// Reserved for application services, as Synapse does.
		return httputil.InvalidUsername("User ID may not begin with '_'")
	case len("@"+l+":"+rt.opts.ServerName) > 255:
		return httputil.InvalidUsername("User ID is longer than 255 bytes")
	}
	return nil
}

func (rt *Routes) validatePassword(p string) error {
	if len(p) > maxPasswordLength {
		return httputil.InvalidParam("Password is longer than %d bytes", maxPasswordLength)
	}
	if len([]rune(p)) < rt.opts.PasswordMinLength {
		return httputil.WeakPassword("Password is shorter than %d characters", rt.opts.PasswordMinLength)
	}
	return nil
}

// registrationFlows are the flows that complete registration: a
// registration token in token mode (else the dummy stage), with or without a
// verified phone number as MsisdnRegistration says.
func (rt *Routes) registrationFlows() []auth.Flow {
	plain := []string{auth.StageDummy}
	var withPhone []string
	if rt.opts.Registration == RegistrationToken {
		plain = []string{auth.StageRegistrationToken}
		withPhone = []string{auth.StageRegistrationToken}
	}
	withPhone = append(withPhone, auth.StageMsisdn)
	switch rt.opts.MsisdnRegistration {
	case msisdnOff:
		return []auth.Flow{{Stages: plain}}
	case msisdnRequired:
		return []auth.Flow{{Stages: withPhone}}
	}
	return []auth.Flow{{Stages: plain}, {Stages: withPhone}}
}

type registerRequest struct {
	// Type is m.login.application_service for an application service's
	// registration, and empty otherwise.
	Type                     string         `json:"type"`
	Username                 string         `json:"username"`
	Password                 string         `json:"password"`
	DeviceID                 string         `json:"device_id"`
	InitialDeviceDisplayName *string        `json:"initial_device_display_name"`
	InhibitLogin             bool           `json:"inhibit_login"`
	RefreshToken             bool           `json:"refresh_token"`
	Auth                     *auth.AuthDict `json:"auth"`
}

// POST /v3/register
func (rt *Routes) register(w http.ResponseWriter, r *http.Request) error {
	if as := rt.appServices().ByToken(httputil.AccessToken(r)); as != nil {
		return rt.registerAppService(w, r, as)
	}
	if rt.opts.Registration == RegistrationDisabled {
		return httputil.Forbidden("Registration is disabled")
	}
	switch r.URL.Query().Get("kind") {
	case "", "user":
	case "guest":
		return httputil.GuestAccessForbidden("Guest access is disabled")
	default:
		return httputil.InvalidParam("Unknown account kind")
	}
	if ok, wait := rt.registerByIP.Allow(httputil.ClientIP(r)); !ok {
		return httputil.LimitExceeded(wait.Milliseconds() + 1)
	}
	var req registerRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Type == loginAppService {
		// Without a valid as_token (spec: "Server admin style permissions").
		if httputil.AccessToken(r) == "" {
			return httputil.MissingToken("Missing as_token")
		}
		return httputil.UnknownToken("Unknown as_token")
	}
	// Localparts are lowercase (spec appendices, "User Identifiers"): a
	// requested username is lowercased, as Synapse does.
	req.Username = strings.ToLower(req.Username)
	// Spec: username and password checks come before user-interactive auth.
	if req.Username != "" {
		if err := rt.validateLocalpart(req.Username); err != nil {
			return err
		}
		if err := rt.exclusiveUser(req.Username, nil); err != nil {
			return err
		}
		free, err := rt.users.LocalpartAvailable(r.Context(), api.Localpart(req.Username))
		if err != nil {
			return err
		}
		if !free {
			return httputil.UserInUse("Desired user ID is already taken")
		}
	}
	if req.Password != "" {
		if err := rt.validatePassword(req.Password); err != nil {
			return err
		}
	}
	if err := checkDeviceFields(req.DeviceID, req.InitialDeviceDisplayName); err != nil {
		return err
	}
	sess, err := rt.runUIA(r.Context(), uiaRequest{purpose: "register", flows: rt.registrationFlows(), dict: req.Auth})
	if err != nil {
		return err
	}
	localpart := api.Localpart(req.Username)
	if localpart == "" {
		if localpart, err = rt.generateLocalpart(r); err != nil {
			return err
		}
	}
	acct, err := rt.users.CreateAccount(r.Context(), api.CreateAccountRequest{
		Localpart: localpart, Password: req.Password, RegistrationToken: sess.Data["registration_token"],
		Msisdn: sess.Data["msisdn"],
	})
	if err != nil {
		return err
	}
	rt.uia.Delete(r.Context(), sess.ID)
	if sid := sess.Data["msisdn_sid"]; sid != "" {
		_ = rt.users.EndMsisdnSession(r.Context(), sid)
	}
	httputil.Logger(r.Context()).WithField(httputil.FieldUserID, acct.UserID).Info("registered account")
	if req.InhibitLogin {
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"user_id": acct.UserID, "home_server": rt.opts.ServerName})
		return nil
	}
	return rt.startSession(w, r, acct.UserID, api.NewSessionRequest{
		Localpart: localpart, DeviceID: api.DeviceID(req.DeviceID), DisplayName: req.InitialDeviceDisplayName,
		IP: httputil.ClientIP(r), UserAgent: r.UserAgent(), Refreshable: req.RefreshToken,
	})
}

// checkDeviceFields validates a client-chosen device ID and display name.
func checkDeviceFields(deviceID string, displayName *string) error {
	if len(deviceID) > 255 || strings.ContainsRune(deviceID, 0) {
		return httputil.InvalidParam("Invalid device_id")
	}
	if displayName != nil && (len(*displayName) > 512 || strings.ContainsRune(*displayName, 0)) {
		return httputil.InvalidParam("Invalid device display name")
	}
	return nil
}

// startSession logs userID in with a new session and answers with it, as
// /register, /login and the admin registration do (spec: their common
// response fields; refresh_token and expires_in_ms only when asked for).
func (rt *Routes) startSession(w http.ResponseWriter, r *http.Request, userID string, req api.NewSessionRequest) error {
	s, err := rt.users.NewSession(r.Context(), req)
	if err != nil {
		return err
	}
	resp := map[string]any{
		"user_id":      userID,
		"home_server":  rt.opts.ServerName,
		"access_token": s.AccessToken,
		"device_id":    s.Device.ID,
	}
	if s.RefreshToken != "" {
		resp["refresh_token"] = s.RefreshToken
		resp["expires_in_ms"] = s.ExpiresInMs
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// generateLocalpart picks a free random localpart for a registration that
// did not ask for one.
func (rt *Routes) generateLocalpart(r *http.Request) (api.Localpart, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for i := 0; i < 10; i++ {
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		for j := range b {
			b[j] = alphabet[int(b[j])%len(alphabet)]
		}
		l := api.Localpart("u" + string(b[:]))
		free, err := rt.users.LocalpartAvailable(r.Context(), l)
		if err != nil {
			return "", err
		}
		if free {
			return l, nil
		}
	}
	return "", httputil.Unknown("Could not generate a user ID")
}

// GET /v3/register/available
func (rt *Routes) registerAvailable(w http.ResponseWriter, r *http.Request) error {
	if ok, wait := rt.registerByIP.Allow(httputil.ClientIP(r)); !ok {
		return httputil.LimitExceeded(wait.Milliseconds() + 1)
	}
	username := strings.ToLower(r.URL.Query().Get("username"))
	if username == "" {
		return httputil.MissingParam("Missing username parameter")
	}
	if err := rt.validateLocalpart(username); err != nil {
		return err
	}
	if err := rt.exclusiveUser(username, nil); err != nil {
		return err
	}
	free, err := rt.users.LocalpartAvailable(r.Context(), api.Localpart(username))
	if err != nil {
		return err
	}
	if !free {
		return httputil.UserInUse("Desired user ID is already taken")
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]bool{"available": true})
	return nil
}

// maxRegistrationTokenLength is the spec's limit ("Token-authenticated
// registration").
const maxRegistrationTokenLength = 64

// registrationTokenValid reports whether a registration token can be used.
// One that breaks the spec's grammar for tokens (opaque identifier, at most
// 64 characters) cannot, and is not looked up.
func (rt *Routes) registrationTokenValid(ctx context.Context, token string) (bool, error) {
	if mxid.ValidateOpaqueID(token, "registration token", maxRegistrationTokenLength) != nil {
		return false, nil
	}
	return rt.users.RegistrationTokenValid(ctx, token)
}

// GET /v1/register/m.login.registration_token/validity
func (rt *Routes) registrationTokenValidity(w http.ResponseWriter, r *http.Request) error {
	if rt.opts.Registration == RegistrationDisabled {
		return httputil.Forbidden("Registration is not enabled on this homeserver")
	}
	if ok, wait := rt.registerByIP.Allow(httputil.ClientIP(r)); !ok {
		return httputil.LimitExceeded(wait.Milliseconds() + 1)
	}
	token := r.URL.Query().Get("token")
	if token == "" {
		return httputil.MissingParam("Missing token parameter")
	}
	valid := false
	if rt.opts.Registration == RegistrationToken {
		var err error
		if valid, err = rt.registrationTokenValid(r.Context(), token); err != nil {
			return err
		}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]bool{"valid": valid})
	return nil
}
