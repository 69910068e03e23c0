package admin

import (
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// setupUserDevices registers Synapse's user device routes (v2).
func (a *Admin) setupUserDevices(p prefixed) {
	p.Handle("/v2/users/{userId}/devices", a.admin(a.listUserDevices)).Methods(http.MethodGet)
	p.Handle("/v2/users/{userId}/devices", a.admin(a.createUserDevice)).Methods(http.MethodPost)
	p.Handle("/v2/users/{userId}/devices/{deviceId}", a.admin(a.getUserDevice)).Methods(http.MethodGet)
	p.Handle("/v2/users/{userId}/devices/{deviceId}", a.admin(a.putUserDevice)).Methods(http.MethodPut)
	p.Handle("/v2/users/{userId}/devices/{deviceId}", a.admin(a.deleteUserDevice)).Methods(http.MethodDelete)
	p.Handle("/v2/users/{userId}/delete_devices", a.admin(a.deleteUserDevices)).Methods(http.MethodPost)
}

// adminDeviceJSON is Synapse's device object; display_name is absent when
// the device has none.
func adminDeviceJSON(userID string, d userapi.Device, dehydrated userapi.DeviceID) map[string]any {
	out := map[string]any{
		"device_id": d.ID, "user_id": userID, "last_seen_ip": d.LastSeenIP,
		"last_seen_user_agent": d.UserAgent, "last_seen_ts": d.LastSeenTS, "dehydrated": d.ID == dehydrated,
	}
	if d.DisplayName != "" {
		out["display_name"] = d.DisplayName
	}
	return out
}

// dehydratedDevice is the user's dehydrated device ("" if none).
func (a *Admin) dehydratedDevice(r *http.Request, local userapi.Localpart) (userapi.DeviceID, error) {
	d, err := a.d.Users.DehydratedDevice(r.Context(), local)
	if errors.Is(err, userapi.ErrNoDehydratedDevice) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return d.DeviceID, nil
}

// GET /_synapse/admin/v2/users/{userId}/devices
func (a *Admin) listUserDevices(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	ds, err := a.d.Users.Devices(r.Context(), acct.Localpart)
	if err != nil {
		return err
	}
	dehydrated, err := a.dehydratedDevice(r, acct.Localpart)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(ds))
	for i, d := range ds {
		out[i] = adminDeviceJSON(acct.UserID, d, dehydrated)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"devices": out, "total": len(out)})
	return nil
}

// POST /_synapse/admin/v2/users/{userId}/devices {"device_id"}: nothing
// happens when the device exists.
func (a *Admin) createUserDevice(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	var req struct {
		DeviceID string `json:"device_id"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.DeviceID == "" {
		return httputil.MissingParam("Missing device_id")
	}
	if err := mxid.ValidateOpaqueID(req.DeviceID, "device_id", 255); err != nil {
		return httputil.InvalidParam("%s", err.Error())
	}
	if _, err := a.d.Users.CreateDevice(r.Context(), acct.Localpart, userapi.DeviceID(req.DeviceID), nil); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusCreated, map[string]any{})
	return nil
}

// GET /_synapse/admin/v2/users/{userId}/devices/{deviceId}
func (a *Admin) getUserDevice(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	d, err := a.d.Users.Device(r.Context(), acct.Localpart, userapi.DeviceID(httputil.Vars(r)["deviceId"]))
	if err != nil {
		return err
	}
	dehydrated, err := a.dehydratedDevice(r, acct.Localpart)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, adminDeviceJSON(acct.UserID, *d, dehydrated))
	return nil
}

// PUT /_synapse/admin/v2/users/{userId}/devices/{deviceId} {"display_name"}
func (a *Admin) putUserDevice(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	var req struct {
		DisplayName *string `json:"display_name"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	id := userapi.DeviceID(httputil.Vars(r)["deviceId"])
	if req.DisplayName == nil { // unchanged, but the device must exist
		_, err = a.d.Users.Device(r.Context(), acct.Localpart, id)
	} else {
		err = a.d.Users.SetDeviceDisplayName(r.Context(), acct.Localpart, id, *req.DisplayName)
	}
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// DELETE /_synapse/admin/v2/users/{userId}/devices/{deviceId}: the device
// and its tokens go; a device that is already gone is not an error.
func (a *Admin) deleteUserDevice(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	id := userapi.DeviceID(httputil.Vars(r)["deviceId"])
	if err := a.d.Users.DeleteDevices(r.Context(), acct.Localpart, []userapi.DeviceID{id}); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// POST /_synapse/admin/v2/users/{userId}/delete_devices {"devices": [...]}
func (a *Admin) deleteUserDevices(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	var req struct {
		Devices []userapi.DeviceID `json:"devices"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Devices == nil {
		return httputil.MissingParam("Missing devices")
	}
	if err := a.d.Users.DeleteDevices(r.Context(), acct.Localpart, req.Devices); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}
