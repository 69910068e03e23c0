package routing

import (
	"net/http"

	"github.com/myelin-im/myelin/clientapi/auth"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// accountFlows are the UIA flows guarding account operations: the password,
// or a code sent to one of the account's phone numbers (for accounts made
// with a phone and no password).
var accountFlows = []auth.Flow{{Stages: []string{auth.StagePassword}}, {Stages: []string{auth.StageMsisdn}}}

// requireAuth runs UIA for an operation of dev's user, and ends the session
// when it succeeds.
func (rt *Routes) requireAuth(r *http.Request, dev *api.Device, purpose string, dict *auth.AuthDict) error {
	sess, err := rt.runUIA(r.Context(), uiaRequest{purpose: purpose, userID: dev.UserID, flows: accountFlows, dict: dict})
	if err != nil {
		return err
	}
	rt.uia.Delete(r.Context(), sess.ID)
	return nil
}

// POST /v3/account/password
func (rt *Routes) changePassword(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		NewPassword   string         `json:"new_password"`
		LogoutDevices *bool          `json:"logout_devices"`
		Auth          *auth.AuthDict `json:"auth"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.NewPassword == "" {
		return httputil.MissingParam("Missing new_password")
	}
	if err := rt.validatePassword(req.NewPassword); err != nil {
		return err
	}
	if err := rt.requireAuth(r, dev, "password", req.Auth); err != nil {
		return err
	}
	logout := req.LogoutDevices == nil || *req.LogoutDevices
	if err := rt.users.SetPassword(r.Context(), dev.Localpart, req.NewPassword, logout, dev.ID); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// POST /v3/account/deactivate
func (rt *Routes) deactivate(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		Auth  *auth.AuthDict `json:"auth"`
		Erase bool           `json:"erase"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if err := rt.requireAuth(r, dev, "deactivate", req.Auth); err != nil {
		return err
	}
	if err := rt.users.Deactivate(r.Context(), dev.Localpart); err != nil {
		return err
	}
	httputil.Logger(r.Context()).Info("deactivated account")
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"id_server_unbind_result": "no-support"})
	return nil
}

// --- devices ---

func deviceJSON(d api.Device) map[string]any {
	out := map[string]any{"device_id": d.ID}
	if d.DisplayName != "" {
		out["display_name"] = d.DisplayName
	}
	if d.LastSeenTS != 0 {
		out["last_seen_ts"] = d.LastSeenTS
	}
	if d.LastSeenIP != "" {
		out["last_seen_ip"] = d.LastSeenIP
	}
	return out
}

// GET /v3/devices
func (rt *Routes) listDevices(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	ds, err := rt.users.Devices(r.Context(), dev.Localpart)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		out = append(out, deviceJSON(d))
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"devices": out})
	return nil
}

// GET /v3/devices/{deviceId}
func (rt *Routes) getDevice(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	d, err := rt.users.Device(r.Context(), dev.Localpart, api.DeviceID(httputil.Vars(r)["deviceId"]))
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, deviceJSON(*d))
	return nil
}

// PUT /v3/devices/{deviceId}
func (rt *Routes) updateDevice(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		DisplayName *string `json:"display_name"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	id := api.DeviceID(httputil.Vars(r)["deviceId"])
	if dev.AppServiceID != "" {
		if created, err := rt.createAppServiceDevice(w, r, dev, id, req.DisplayName); err != nil || created {
			return err
		}
	}
	if req.DisplayName == nil {
		// Nothing to change, but the device must exist.
		if _, err := rt.users.Device(r.Context(), dev.Localpart, id); err != nil {
			return err
		}
		httputil.WriteJSON(w, http.StatusOK, struct{}{})
		return nil
	}
	if err := checkDeviceFields("", req.DisplayName); err != nil {
		return err
	}
	if err := rt.users.SetDeviceDisplayName(r.Context(), dev.Localpart, id, *req.DisplayName); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// DELETE /v3/devices/{deviceId}
func (rt *Routes) deleteDevice(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		Auth *auth.AuthDict `json:"auth"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	id := api.DeviceID(httputil.Vars(r)["deviceId"])
	if _, err := rt.users.Device(r.Context(), dev.Localpart, id); err != nil {
		return err
	}
	if err := rt.requireDeviceAuth(r, dev, req.Auth); err != nil {
		return err
	}
	if err := rt.users.DeleteDevices(r.Context(), dev.Localpart, []api.DeviceID{id}); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// requireDeviceAuth runs UIA before devices are deleted, except for an
// application service acting as one of its users (spec: application
// service API, "Deleting devices": it MUST NOT be required).
func (rt *Routes) requireDeviceAuth(r *http.Request, dev *api.Device, dict *auth.AuthDict) error {
	if dev.AppServiceID != "" {
		return nil
	}
	return rt.requireAuth(r, dev, "delete_devices", dict)
}

// POST /v3/delete_devices
func (rt *Routes) deleteDevices(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		Devices []string       `json:"devices"`
		Auth    *auth.AuthDict `json:"auth"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Devices == nil {
		return httputil.MissingParam("Missing devices")
	}
	for _, d := range req.Devices {
		if err := checkDeviceFields(d, nil); err != nil {
			return err
		}
	}
	if err := rt.requireDeviceAuth(r, dev, req.Auth); err != nil {
		return err
	}
	ids := make([]api.DeviceID, len(req.Devices))
	for i, d := range req.Devices {
		ids[i] = api.DeviceID(d)
	}
	if err := rt.users.DeleteDevices(r.Context(), dev.Localpart, ids); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}
