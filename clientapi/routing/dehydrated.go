package routing

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// Dehydrated devices (MSC3814, unstable prefix org.matrix.msc3814.v1): a
// device stored in the user's account, with no access token, that receives
// room keys while none of the user's devices is online; a new login
// rehydrates it and reads what it received.

// msc3814Prefix is where the unstable endpoints live (MSC3814: "Unstable
// prefix").
const msc3814Prefix = "/_matrix/client/unstable/org.matrix.msc3814.v1"

// maxDehydratedEvents bounds the to-device messages of one events call, as
// for /sync.
const maxDehydratedEvents = 100

func (rt *Routes) setupDehydratedDevices(p prefixed) {
	p.Handle("/dehydrated_device", rt.authed(rt.putDehydratedDevice)).Methods(http.MethodPut)
	p.Handle("/dehydrated_device", rt.authed(rt.getDehydratedDevice)).Methods(http.MethodGet)
	p.Handle("/dehydrated_device", rt.authed(rt.deleteDehydratedDevice)).Methods(http.MethodDelete)
	p.Handle("/dehydrated_device/{deviceId}/events", rt.authed(rt.dehydratedDeviceEvents)).Methods(http.MethodPost)
}

// putDehydratedDeviceRequest is the body of PUT /dehydrated_device: the
// device, the data to rehydrate it, and its keys as POST /keys/upload takes
// them.
type putDehydratedDeviceRequest struct {
	DeviceID                 string                     `json:"device_id"`
	DeviceData               json.RawMessage            `json:"device_data"`
	InitialDeviceDisplayName *string                    `json:"initial_device_display_name"`
	DeviceKeys               json.RawMessage            `json:"device_keys"`
	OneTimeKeys              map[string]json.RawMessage `json:"one_time_keys"`
	FallbackKeys             map[string]json.RawMessage `json:"fallback_keys"`
}

// check refuses what MSC3814 requires and the request lacks: a device ID,
// device_data that is an object with an algorithm, and device keys (the
// device exists to be encrypted for).
func (req *putDehydratedDeviceRequest) check() error {
	if req.DeviceID == "" {
		return httputil.BadJSON("device_id is required")
	}
	if err := checkDeviceFields(req.DeviceID, req.InitialDeviceDisplayName); err != nil {
		return err
	}
	var data struct {
		Algorithm *string `json:"algorithm"`
	}
	if !isJSONObject(req.DeviceData) || json.Unmarshal(req.DeviceData, &data) != nil || data.Algorithm == nil {
		return httputil.BadJSON("device_data must be an object with a string algorithm")
	}
	if len(req.DeviceKeys) == 0 || string(req.DeviceKeys) == "null" {
		return httputil.BadJSON("device_keys is required")
	}
	return nil
}

// PUT /dehydrated_device (MSC3814: "Dehydrating a device"). A new device
// replaces the user's previous dehydrated device.
func (rt *Routes) putDehydratedDevice(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req putDehydratedDeviceRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	id := api.DeviceID(req.DeviceID)
	err := rt.users.SetDehydratedDevice(r.Context(), dev.Localpart, api.DehydratedDeviceUpload{
		DeviceID:    id,
		DeviceData:  req.DeviceData,
		DisplayName: req.InitialDeviceDisplayName,
		Keys:        api.KeyUpload{DeviceKeys: req.DeviceKeys, OneTimeKeys: req.OneTimeKeys, FallbackKeys: req.FallbackKeys},
	})
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"device_id": id})
	return nil
}

// GET /dehydrated_device (MSC3814: "Rehydrating a device"): 404 M_NOT_FOUND
// when the user has none.
func (rt *Routes) getDehydratedDevice(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	d, err := rt.users.DehydratedDevice(r.Context(), dev.Localpart)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"device_id": d.DeviceID, "device_data": d.DeviceData})
	return nil
}

// DELETE /dehydrated_device (MSC3814: "Deleting a dehydrated device"),
// without user-interactive auth: the device holds no session.
func (rt *Routes) deleteDehydratedDevice(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	id, err := rt.users.DeleteDehydratedDevice(r.Context(), dev.Localpart)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"device_id": id})
	return nil
}

// dehydratedEvent is a to-device message in the format of /sync's
// to_device section (MSC3814 refers to it).
type dehydratedEvent struct {
	Sender  string          `json:"sender"`
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
}

// POST /dehydrated_device/{deviceId}/events (MSC3814: "Rehydrating a
// device"). next_batch is the position of the last message given; the
// last batch is followed by one with no events, which tells the client it
// has them all.
func (rt *Routes) dehydratedDeviceEvents(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		NextBatch *string `json:"next_batch"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	var since int64
	if req.NextBatch != nil {
		var err error
		if since, err = strconv.ParseInt(*req.NextBatch, 10, 64); err != nil || since < 0 {
			return httputil.InvalidParam("Invalid next_batch")
		}
	}
	id := api.DeviceID(httputil.Vars(r)["deviceId"])
	msgs, next, err := rt.users.DehydratedDeviceEvents(r.Context(), dev.Localpart, id, since, maxDehydratedEvents)
	if err != nil {
		return err
	}
	events := make([]dehydratedEvent, len(msgs))
	for i, m := range msgs {
		events[i] = dehydratedEvent{Sender: m.Sender, Type: m.Type, Content: m.Content}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"events": events, "next_batch": strconv.FormatInt(next, 10)})
	return nil
}
