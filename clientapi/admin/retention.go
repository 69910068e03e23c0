package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// setupRetention registers the purge history API (Synapse's), the legal
// hold and the retention job's trigger (Myelin extensions,
// docs/api-extensions.md).
func (a *Admin) setupRetention(p prefixed) {
	p.Handle("/v1/purge_history/{roomId}", a.admin(a.purgeHistory)).Methods(http.MethodPost)
	p.Handle("/v1/purge_history/{roomId}/{eventId}", a.admin(a.purgeHistory)).Methods(http.MethodPost)
	p.Handle("/v1/purge_history_status/{purgeId}", a.admin(a.purgeHistoryStatus)).Methods(http.MethodGet)
	p.Handle("/v1/rooms/{roomId}/legal_hold", a.admin(a.getLegalHold)).Methods(http.MethodGet)
	p.Handle("/v1/rooms/{roomId}/legal_hold", a.admin(a.putLegalHold)).Methods(http.MethodPut)
	p.Handle("/v1/rooms/{roomId}/legal_hold", a.admin(a.deleteLegalHold)).Methods(http.MethodDelete)
	p.Handle("/v1/retention/run", a.admin(a.runRetention)).Methods(http.MethodPost)
}

// roomIDVar is the path's room ID, checked (400 M_INVALID_PARAM).
func roomIDVar(r *http.Request) (string, error) {
	id := httputil.Vars(r)["roomId"]
	if err := mxid.ValidateRoomID(id); err != nil {
		return "", httputil.InvalidParam("%s", err.Error())
	}
	return id, nil
}

// POST /_synapse/admin/v1/purge_history/{roomId}[/{eventId}] with
// {"delete_local_events", "purge_up_to_event_id", "purge_up_to_ts"}:
// starts a purge and answers {"purge_id"} at once. A room under legal
// hold is refused with 409 (roomapi.ErrLegalHold).
func (a *Admin) purgeHistory(w http.ResponseWriter, r *http.Request, c *Caller) error {
	roomID, err := roomIDVar(r)
	if err != nil {
		return err
	}
	var body struct {
		DeleteLocalEvents bool            `json:"delete_local_events"`
		UpToEventID       string          `json:"purge_up_to_event_id"`
		UpToTS            json.RawMessage `json:"purge_up_to_ts"`
	}
	if err := httputil.ReadJSON(r, &body); err != nil {
		return err
	}
	req := roomapi.PurgeHistoryRequest{RoomID: roomID, UpToEventID: body.UpToEventID, DeleteLocalEvents: body.DeleteLocalEvents}
	if id := httputil.Vars(r)["eventId"]; id != "" {
		req.UpToEventID = id
	}
	if len(body.UpToTS) > 0 && string(body.UpToTS) != "null" {
		if err := json.Unmarshal(body.UpToTS, &req.UpToTS); err != nil || req.UpToTS <= 0 {
			return httputil.InvalidParam("purge_up_to_ts must be a positive integer (ms since the epoch)")
		}
	}
	if req.UpToEventID == "" && req.UpToTS == 0 {
		return httputil.BadJSON("must specify purge_up_to_event_id or purge_up_to_ts")
	}
	if req.UpToEventID != "" {
		if err := mxid.ValidateEventID(req.UpToEventID); err != nil {
			return httputil.InvalidParam("%s", err.Error())
		}
	}
	id, err := a.d.Rooms.PurgeHistory(r.Context(), req)
	if err != nil {
		return err
	}
	c.Note("purge_id " + id)
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"purge_id": id})
	return nil
}

// GET /_synapse/admin/v1/purge_history_status/{purgeId}: {"status":
// "active"|"complete"|"failed"}, with "error" when it failed.
func (a *Admin) purgeHistoryStatus(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	st, err := a.d.Rooms.PurgeStatus(r.Context(), httputil.Vars(r)["purgeId"])
	if err != nil {
		return err
	}
	resp := map[string]any{"status": st.Status}
	if st.Status == roomapi.PurgeFailed {
		resp["error"] = st.Error
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// legalHoldJSON is a room's legal hold as the API shows it.
func legalHoldJSON(h *roomapi.LegalHold) map[string]any {
	if h == nil {
		return map[string]any{"hold": false}
	}
	return map[string]any{"hold": true, "reason": h.Reason, "since": h.Since, "by": h.By}
}

// GET /_synapse/admin/v1/rooms/{roomId}/legal_hold: {"hold": false}, or
// {"hold": true, "reason", "since" (ms), "by" (the admin)}.
func (a *Admin) getLegalHold(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	roomID, err := roomIDVar(r)
	if err != nil {
		return err
	}
	h, err := a.d.Rooms.LegalHold(r.Context(), roomID)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, legalHoldJSON(h))
	return nil
}

// PUT /_synapse/admin/v1/rooms/{roomId}/legal_hold {"hold": true,
// "reason"}: places the hold (again: a new reason); {"hold": false}
// releases it, as DELETE does. Answers the hold as GET shows it.
func (a *Admin) putLegalHold(w http.ResponseWriter, r *http.Request, c *Caller) error {
	roomID, err := roomIDVar(r)
	if err != nil {
		return err
	}
	var body struct {
		Hold   *bool  `json:"hold"`
		Reason string `json:"reason"`
	}
	if err := httputil.ReadJSON(r, &body); err != nil {
		return err
	}
	if body.Hold == nil {
		return httputil.MissingParam("hold (true or false) is required")
	}
	if !*body.Hold {
		return a.releaseLegalHold(w, r, c, roomID)
	}
	h, err := a.d.Rooms.PlaceLegalHold(r.Context(), roomapi.LegalHold{
		RoomID: roomID, Reason: body.Reason, By: c.Device.UserID, Since: time.Now().UnixMilli(),
	})
	if err != nil {
		return err
	}
	c.Note("legal hold placed: " + body.Reason)
	httputil.WriteJSON(w, http.StatusOK, legalHoldJSON(&h))
	return nil
}

// DELETE /_synapse/admin/v1/rooms/{roomId}/legal_hold: releases the hold
// (a room without one is answered the same: {"hold": false}).
func (a *Admin) deleteLegalHold(w http.ResponseWriter, r *http.Request, c *Caller) error {
	roomID, err := roomIDVar(r)
	if err != nil {
		return err
	}
	return a.releaseLegalHold(w, r, c, roomID)
}

func (a *Admin) releaseLegalHold(w http.ResponseWriter, r *http.Request, c *Caller, roomID string) error {
	released, err := a.d.Rooms.ReleaseLegalHold(r.Context(), roomID)
	if err != nil {
		return err
	}
	if released {
		c.Note("legal hold released")
	}
	httputil.WriteJSON(w, http.StatusOK, legalHoldJSON(nil))
	return nil
}

// POST /_synapse/admin/v1/retention/run: runs the retention job now and
// answers what it did: {"rooms", "held", "purged"}.
func (a *Admin) runRetention(w http.ResponseWriter, r *http.Request, c *Caller) error {
	run, err := a.d.Rooms.RunRetention(r.Context())
	if err != nil {
		return err
	}
	c.Note("retention run")
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"rooms": run.Rooms, "held": run.Held, "purged": run.Purged})
	return nil
}
