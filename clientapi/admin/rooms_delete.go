package admin

import (
	"fmt"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// deleteBody is Synapse's body of a room delete; it must be a JSON object
// ({} at least). purge defaults to true.
type deleteBody struct {
	NewRoomUserID string `json:"new_room_user_id"`
	RoomName      string `json:"room_name"`
	Message       string `json:"message"`
	Block         *bool  `json:"block"`
	Purge         *bool  `json:"purge"`
	ForcePurge    *bool  `json:"force_purge"`
}

// deleteRequest reads and checks a delete's room and body.
func (a *Admin) deleteRequest(r *http.Request, c *Caller) (roomapi.RoomDeleteRequest, error) {
	roomID, err := roomParam(r)
	if err != nil {
		return roomapi.RoomDeleteRequest{}, err
	}
	raw, err := httputil.ReadBody(r)
	if err != nil {
		return roomapi.RoomDeleteRequest{}, err
	}
	var b deleteBody
	if err := httputil.DecodeJSONObject(raw, &b); err != nil {
		return roomapi.RoomDeleteRequest{}, err
	}
	if b.NewRoomUserID != "" {
		if _, ok := a.isLocal(b.NewRoomUserID); !ok {
			return roomapi.RoomDeleteRequest{}, httputil.BadRequestUnknown("User must be our own: %s", b.NewRoomUserID)
		}
	}
	req := roomapi.RoomDeleteRequest{RoomID: roomID, Requester: c.Device.UserID, NewRoomUserID: b.NewRoomUserID,
		RoomName: b.RoomName, Message: b.Message, Purge: true,
		Block: b.Block != nil && *b.Block, ForcePurge: b.ForcePurge != nil && *b.ForcePurge}
	if b.Purge != nil {
		req.Purge = *b.Purge
	}
	return req, nil
}

// DELETE /_synapse/admin/v1/rooms/{roomId}: shuts the room down (and
// purges it) before answering, with what was done.
func (a *Admin) deleteRoomV1(w http.ResponseWriter, r *http.Request, c *Caller) error {
	req, err := a.deleteRequest(r, c)
	if err != nil {
		return err
	}
	d, err := a.d.Rooms.DeleteRoom(r.Context(), req)
	if d.DeleteID != "" {
		c.Note(deleteNote(req, d.DeleteID))
	}
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, d.Result)
	return nil
}

// DELETE /_synapse/admin/v2/rooms/{roomId}: starts the delete and answers
// its delete_id at once.
func (a *Admin) deleteRoomV2(w http.ResponseWriter, r *http.Request, c *Caller) error {
	req, err := a.deleteRequest(r, c)
	if err != nil {
		return err
	}
	id, err := a.d.Rooms.StartRoomDelete(r.Context(), req)
	if err != nil {
		return err
	}
	c.Note(deleteNote(req, id))
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"delete_id": id})
	return nil
}

func deleteNote(req roomapi.RoomDeleteRequest, id string) string {
	return fmt.Sprintf("delete_id=%s block=%t purge=%t force_purge=%t new_room_user_id=%s",
		id, req.Block, req.Purge, req.ForcePurge, req.NewRoomUserID)
}

// deleteStatusJSON is one delete's status, as Synapse shows it.
type deleteStatusJSON struct {
	DeleteID     string                 `json:"delete_id"`
	RoomID       string                 `json:"room_id"`
	Status       string                 `json:"status"`
	Error        string                 `json:"error,omitempty"`
	ShutdownRoom roomapi.ShutdownResult `json:"shutdown_room"`
}

func toDeleteStatus(d roomapi.RoomDelete) deleteStatusJSON {
	return deleteStatusJSON{DeleteID: d.DeleteID, RoomID: d.RoomID, Status: d.Status, Error: d.Error, ShutdownRoom: d.Result}
}

// GET /_synapse/admin/v2/rooms/{roomId}/delete_status
func (a *Admin) deleteStatusOfRoom(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	roomID, err := roomParam(r)
	if err != nil {
		return err
	}
	ds, err := a.d.Rooms.RoomDeletesOf(r.Context(), roomID)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return httputil.NotFound("No delete task for room_id '%s' found", roomID)
	}
	out := make([]deleteStatusJSON, len(ds))
	for i, d := range ds {
		out[i] = toDeleteStatus(d)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"results": out})
	return nil
}

// GET /_synapse/admin/v2/rooms/delete_status/{deleteId}
func (a *Admin) deleteStatus(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	d, err := a.d.Rooms.RoomDeleteByID(r.Context(), httputil.Vars(r)["deleteId"])
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, toDeleteStatus(d))
	return nil
}
