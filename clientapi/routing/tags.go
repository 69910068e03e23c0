package routing

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// maxTagLength is the longest tag name (spec, "Room Tagging": "The name of
// a tag MUST NOT exceed 255 bytes").
const maxTagLength = 255

// setupTags registers the room tag API (spec: "Room Tagging", tags.yaml).
// Tags live in the room's m.tag account data, so /sync delivers them.
func (rt *Routes) setupTags(v3 prefixed) {
	v3.Handle("/user/{userId}/rooms/{roomId}/tags", rt.authed(rt.getRoomTags)).Methods(http.MethodGet)
	v3.Handle("/user/{userId}/rooms/{roomId}/tags/{tag}", rt.authed(rt.putRoomTag)).Methods(http.MethodPut)
	v3.Handle("/user/{userId}/rooms/{roomId}/tags/{tag}", rt.authed(rt.deleteRoomTag)).Methods(http.MethodDelete)
}

// tagTarget checks the user and room of a tag request: only one's own tags
// (tags.yaml: "The access token must be authorised to make requests for
// this user ID").
func (rt *Routes) tagTarget(r *http.Request, dev *api.Device) (roomID string, err error) {
	v := httputil.Vars(r)
	if _, _, err := rt.localUser(v["userId"]); err != nil {
		return "", err
	}
	if v["userId"] != dev.UserID {
		return "", httputil.Forbidden("Cannot access the tags of other users")
	}
	if err := checkRoomID(v["roomId"]); err != nil {
		return "", err
	}
	return v["roomId"], nil
}

// tagName reads and checks the tag of the path.
func tagName(r *http.Request) (string, error) {
	tag := httputil.Vars(r)["tag"]
	if tag == "" || len(tag) > maxTagLength {
		return "", httputil.InvalidParam("A tag must have 1 to %d bytes", maxTagLength)
	}
	return tag, nil
}

// GET /v3/user/{userId}/rooms/{roomId}/tags
func (rt *Routes) getRoomTags(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID, err := rt.tagTarget(r, dev)
	if err != nil {
		return err
	}
	content, err := rt.users.AccountData(r.Context(), dev.Localpart, roomID, api.TagsAccountDataType)
	if errors.Is(err, api.ErrNotFound) {
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"tags": map[string]any{}})
		return nil
	}
	if err != nil {
		return err
	}
	var tc struct {
		Tags map[string]json.RawMessage `json:"tags"`
	}
	if err := json.Unmarshal(content, &tc); err != nil || tc.Tags == nil {
		tc.Tags = map[string]json.RawMessage{}
	}
	httputil.WriteJSON(w, http.StatusOK, tc)
	return nil
}

// roomTag reads the room and the tag of a tag path (tagTarget, tagName).
func (rt *Routes) roomTag(r *http.Request, dev *api.Device) (roomID, tag string, err error) {
	if roomID, err = rt.tagTarget(r, dev); err != nil {
		return "", "", err
	}
	if tag, err = tagName(r); err != nil {
		return "", "", err
	}
	return roomID, tag, nil
}

// PUT /v3/user/{userId}/rooms/{roomId}/tags/{tag}
func (rt *Routes) putRoomTag(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID, tag, err := rt.roomTag(r, dev)
	if err != nil {
		return err
	}
	var content map[string]json.RawMessage
	if err := httputil.ReadJSON(r, &content); err != nil {
		return err
	}
	if err := checkTagOrder(content["order"]); err != nil {
		return err
	}
	compact, err := json.Marshal(content)
	if err != nil {
		return httputil.BadJSON("Content could not be re-encoded")
	}
	if err := rt.users.SetRoomTag(r.Context(), dev.Localpart, roomID, tag, compact); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// checkTagOrder checks a tag's order, when given: a number between 0 and 1
// (spec, "Room Tagging": "Ordering information is given under the order
// key as a number between 0 and 1").
func checkTagOrder(raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	var order float64
	if err := json.Unmarshal(raw, &order); err != nil {
		return httputil.BadJSON("order must be a number")
	}
	if order < 0 || order > 1 {
		return httputil.InvalidParam("order must be between 0 and 1")
	}
	return nil
}

// DELETE /v3/user/{userId}/rooms/{roomId}/tags/{tag}
func (rt *Routes) deleteRoomTag(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID, tag, err := rt.roomTag(r, dev)
	if err != nil {
		return err
	}
	if err := rt.users.DeleteRoomTag(r.Context(), dev.Localpart, roomID, tag); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}
