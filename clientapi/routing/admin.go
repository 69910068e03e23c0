package routing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// Shared-secret registration, compatible with Synapse's admin API
// (`/_synapse/admin/v1/register`): admin tools and test suites create users
// with a nonce and an HMAC-SHA1 over nonce, user, password and admin flag.

const nonceTTL = 60 * time.Second

func (rt *Routes) sharedSecretEnabled() error {
	if rt.opts.RegistrationSharedSecret == "" {
		return httputil.BadRequestUnknown("Shared secret registration is not enabled")
	}
	return nil
}

// GET /_synapse/admin/v1/register
func (rt *Routes) sharedSecretNonce(w http.ResponseWriter, r *http.Request) error {
	if err := rt.sharedSecretEnabled(); err != nil {
		return err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	if err := rt.cache.Set(r.Context(), "admin-nonce:"+nonce, []byte{1}, nonceTTL); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"nonce": nonce})
	return nil
}

// SharedSecretMAC computes the MAC of a shared-secret registration request.
func SharedSecretMAC(secret, nonce, user, password string, admin bool) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(nonce))
	m.Write([]byte{0})
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(password))
	m.Write([]byte{0})
	if admin {
		m.Write([]byte("admin"))
	} else {
		m.Write([]byte("notadmin"))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// POST /_synapse/admin/v1/register
func (rt *Routes) sharedSecretRegister(w http.ResponseWriter, r *http.Request) error {
	if err := rt.sharedSecretEnabled(); err != nil {
		return err
	}
	var req struct {
		Nonce       string `json:"nonce"`
		Username    string `json:"username"`
		Password    string `json:"password"`
		Admin       bool   `json:"admin"`
		MAC         string `json:"mac"`
		DisplayName string `json:"displayname"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	for name, v := range map[string]string{"nonce": req.Nonce, "username": req.Username, "password": req.Password, "mac": req.MAC} {
		if v == "" {
			return httputil.MissingParam("Missing %s", name)
		}
	}
	// The nonce is single-use: take it before checking anything else.
	if _, ok, err := rt.cache.Get(r.Context(), "admin-nonce:"+req.Nonce); err != nil {
		return err
	} else if !ok {
		return httputil.BadRequestUnknown("Unrecognised nonce")
	}
	if err := rt.cache.Delete(r.Context(), "admin-nonce:"+req.Nonce); err != nil {
		return err
	}
	want := SharedSecretMAC(rt.opts.RegistrationSharedSecret, req.Nonce, req.Username, req.Password, req.Admin)
	if !hmac.Equal([]byte(want), []byte(req.MAC)) {
		return httputil.Forbidden("HMAC incorrect")
	}
	req.Username = strings.ToLower(req.Username) // after the MAC, which covers what was sent
	if err := rt.validateLocalpart(req.Username); err != nil {
		return err
	}
	if len(req.Password) > maxPasswordLength {
		return httputil.InvalidParam("Password is too long")
	}
	acct, err := rt.users.CreateAccount(r.Context(), api.CreateAccountRequest{
		Localpart:   api.Localpart(req.Username),
		Password:    req.Password,
		IsAdmin:     req.Admin,
		DisplayName: req.DisplayName,
	})
	if err != nil {
		return err
	}
	return rt.startSession(w, r, acct.UserID, api.NewSessionRequest{
		Localpart: acct.Localpart,
		IP:        httputil.ClientIP(r),
		UserAgent: r.UserAgent(),
	})
}
