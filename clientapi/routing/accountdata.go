package routing

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// serverManagedAccountData cannot be set through the account-data API (spec:
// "PUT /user/{userId}/account_data/{type}", 405 M_BAD_JSON).
var serverManagedAccountData = map[string]bool{"m.fully_read": true, "m.push_rules": true}

// accountDataTarget checks the path of an account-data request and returns
// the room ID ("" for global data) and type.
func (rt *Routes) accountDataTarget(r *http.Request, dev *api.Device) (roomID, dataType string, err error) {
	v := httputil.Vars(r)
	if _, _, err := rt.localUser(v["userId"]); err != nil {
		return "", "", err
	}
	if v["userId"] != dev.UserID {
		return "", "", httputil.Forbidden("Cannot access account data of other users")
	}
	roomID, dataType = v["roomId"], v["type"]
	if _, ok := v["roomId"]; ok {
		if err := checkRoomID(roomID); err != nil {
			return "", "", err
		}
	}
	if dataType == "" || len(dataType) > 255 {
		return "", "", httputil.InvalidParam("Invalid account data type")
	}
	return roomID, dataType, nil
}

// GET /v3/user/{userId}[/rooms/{roomId}]/account_data/{type}
func (rt *Routes) getAccountData(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID, dataType, err := rt.accountDataTarget(r, dev)
	if err != nil {
		return err
	}
	content, err := rt.users.AccountData(r.Context(), dev.Localpart, roomID, dataType)
	if errors.Is(err, api.ErrNotFound) {
		return httputil.NotFound("Account data not found")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(content)
	return nil
}

// PUT /v3/user/{userId}[/rooms/{roomId}]/account_data/{type}
func (rt *Routes) putAccountData(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID, dataType, err := rt.accountDataTarget(r, dev)
	if err != nil {
		return err
	}
	if serverManagedAccountData[dataType] {
		return &httputil.MatrixError{
			Status:  http.StatusMethodNotAllowed,
			ErrCode: "M_BAD_JSON",
			Message: "Cannot set " + dataType + " through this API",
		}
	}
	body, err := httputil.ReadBody(r)
	if err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if err := httputil.DecodeJSONObject(body, &obj); err != nil {
		return err
	}
	// Store the canonical compact form.
	compact, err := json.Marshal(obj)
	if err != nil {
		return httputil.BadJSON("Content could not be re-encoded")
	}
	if err := rt.users.SetAccountData(r.Context(), dev.Localpart, roomID, dataType, compact); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}
