package routing

import (
	"net/http"

	"github.com/myelin-im/myelin/clientapi/auth"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// GET /v3/account/3pid
func (rt *Routes) listThreepids(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	tps, err := rt.users.Threepids(r.Context(), dev.Localpart)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(tps))
	for _, t := range tps {
		out = append(out, map[string]any{
			"medium": t.Medium, "address": t.Address, "added_at": t.AddedTS, "validated_at": t.ValidatedTS,
		})
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"threepids": out})
	return nil
}

// POST /v3/account/3pid/add: binds the number a validated "add" session
// proves, after user-interactive auth.
func (rt *Routes) addThreepid(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		Auth         *auth.AuthDict `json:"auth"`
		ClientSecret string         `json:"client_secret"`
		SID          string         `json:"sid"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.ClientSecret == "" || req.SID == "" {
		return httputil.MissingParam("client_secret and sid are required")
	}
	// The session is checked before authentication so that a client is not
	// asked to authenticate for a number that cannot be added.
	if _, err := rt.users.ValidatedMsisdn(r.Context(), req.SID, req.ClientSecret, api.MsisdnAdd); err != nil {
		return err
	}
	if err := rt.requireAuth(r, dev, "3pid_add", req.Auth); err != nil {
		return err
	}
	msisdn, err := rt.users.ValidatedMsisdn(r.Context(), req.SID, req.ClientSecret, api.MsisdnAdd)
	if err != nil {
		return err
	}
	if err := rt.users.BindThreepid(r.Context(), dev.Localpart, api.MediumMSISDN, string(msisdn)); err != nil {
		return err
	}
	_ = rt.users.EndMsisdnSession(r.Context(), req.SID)
	httputil.Logger(r.Context()).Info("bound a phone number")
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// threepidRequest is the body of /account/3pid/delete and /unbind.
type threepidRequest struct {
	Medium   string `json:"medium"`
	Address  string `json:"address"`
	IDServer string `json:"id_server"`
}

func (req *threepidRequest) check() error {
	if req.Medium == "" || req.Address == "" {
		return httputil.MissingParam("medium and address are required")
	}
	return nil
}

// noIdentityServer is the answer to the identity-server half of delete and
// unbind: Myelin binds 3PIDs itself and tells no identity server.
var noIdentityServer = map[string]string{"id_server_unbind_result": "no-support"}

// POST /v3/account/3pid/delete
func (rt *Routes) deleteThreepid(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req threepidRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if err := rt.users.UnbindThreepid(r.Context(), dev.Localpart, req.Medium, req.Address); err != nil {
		return err
	}
	httputil.Logger(r.Context()).Info("removed a phone number")
	httputil.WriteJSON(w, http.StatusOK, noIdentityServer)
	return nil
}

// POST /v3/account/3pid/unbind: only identity servers hold bindings this
// endpoint removes, and Myelin uses none; the account keeps the 3PID (spec).
func (rt *Routes) unbindThreepid(w http.ResponseWriter, r *http.Request, _ *api.Device) error {
	var req threepidRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, noIdentityServer)
	return nil
}
