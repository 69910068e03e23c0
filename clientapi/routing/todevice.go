package routing

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// maxToDeviceType bounds an event type in the path, as for account data.
const maxToDeviceType = 255

// sendToDeviceRequest is the body of PUT /sendToDevice: user ID → device
// ID (or "*") → content.
type sendToDeviceRequest struct {
	Messages *map[string]map[string]json.RawMessage `json:"messages"`
}

// PUT /v3/sendToDevice/{eventType}/{txnId} (spec: "Send-to-Device
// messaging"). The content is routed as it came and never read; the answer
// waits until the messages are stored, and a retried transaction ID stores
// nothing new.
func (rt *Routes) sendToDevice(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	v := httputil.Vars(r)
	eventType, txnID := v["eventType"], v["txnId"]
	if eventType == "" || len(eventType) > maxToDeviceType {
		return httputil.InvalidParam("Invalid event type")
	}
	var req sendToDeviceRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Messages == nil {
		return httputil.BadJSON("messages is required")
	}
	if err := checkToDeviceMessages(*req.Messages); err != nil {
		return err
	}
	// Other servers' users' messages go to the federation component over
	// the bus, in the same transaction as the local ones.
	if _, err := rt.users.SendToDevice(r.Context(), dev.UserID, dev.ID, txnID, eventType, *req.Messages); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// checkToDeviceMessages refuses recipients that are not user IDs, empty
// device IDs and content that is not a JSON object (spec: the body's
// EventContent is an object).
func checkToDeviceMessages(messages map[string]map[string]json.RawMessage) error {
	for userID, byDevice := range messages {
		if err := checkUserID(userID); err != nil {
			return err
		}
		for deviceID, content := range byDevice {
			if deviceID == "" {
				return httputil.InvalidParam("Empty device ID for %s", userID)
			}
			if !isJSONObject(content) {
				return httputil.BadJSON("Content for %s's device %s must be a JSON object", userID, deviceID)
			}
		}
	}
	return nil
}

// isJSONObject reports whether raw, already valid JSON, is an object.
func isJSONObject(raw json.RawMessage) bool {
	i := slices.IndexFunc(raw, func(b byte) bool { return b != ' ' && b != '\t' && b != '\n' && b != '\r' })
	return i >= 0 && raw[i] == '{'
}
