package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// setupReports registers Synapse's event reports API and the resolve
// extension (docs/api-extensions.md).
func (a *Admin) setupReports(p prefixed) {
	p.Handle("/v1/event_reports", a.admin(a.eventReports)).Methods(http.MethodGet)
	p.Handle("/v1/event_reports/{reportId}", a.admin(a.eventReport)).Methods(http.MethodGet)
	p.Handle("/v1/event_reports/{reportId}", a.admin(a.deleteEventReport)).Methods(http.MethodDelete)
	p.Handle("/v1/event_reports/{reportId}/resolve", a.admin(a.resolveEventReport)).Methods(http.MethodPost)
}

// eventReportJSON is a report as Synapse lists it: user_id is the
// reporter, sender the reported event's sender, name and canonical_alias
// the room's. resolved is Myelin's addition.
type eventReportJSON struct {
	ID             int64           `json:"id"`
	ReceivedTS     int64           `json:"received_ts"`
	RoomID         string          `json:"room_id"`
	Name           *string         `json:"name"`
	CanonicalAlias *string         `json:"canonical_alias"`
	EventID        string          `json:"event_id"`
	UserID         string          `json:"user_id"`
	Sender         string          `json:"sender"`
	Reason         *string         `json:"reason"`
	Score          *int64          `json:"score"`
	Resolved       bool            `json:"resolved"`
	EventJSON      json.RawMessage `json:"event_json,omitempty"`
}

// GET /_synapse/admin/v1/event_reports?from=&limit=&dir=&room_id=&user_id=
// &event_sender_user_id=: event reports, newest first (dir=f: oldest),
// the filters keeping IDs that contain the text; next_token is the next
// page's from.
func (a *Admin) eventReports(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	q := r.URL.Query()
	from, limit, err := paging(q)
	if err != nil {
		return err
	}
	dir := q.Get("dir")
	if dir != "" && dir != "f" && dir != "b" {
		return httputil.InvalidParam("Unknown direction: %q", dir)
	}
	reports, total, err := a.d.Rooms.ListReports(r.Context(), roomapi.ReportsQuery{
		Offset: from, Limit: limit, OldestFirst: dir == "f", Kind: roomapi.ReportEvent,
		RoomIDContains: q.Get("room_id"), ReporterContains: q.Get("user_id"),
		TargetContains: q.Get("event_sender_user_id"),
	})
	if err != nil {
		return err
	}
	out := make([]eventReportJSON, len(reports))
	for i, rep := range reports {
		out[i] = a.reportJSON(r.Context(), rep)
	}
	resp := map[string]any{"event_reports": out, "total": total}
	if from+len(out) < total && limit > 0 {
		resp["next_token"] = from + len(out)
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// reportJSON is rep with its room's name and alias (null when none).
func (a *Admin) reportJSON(ctx context.Context, rep roomapi.Report) eventReportJSON {
	out := eventReportJSON{ID: rep.ID, ReceivedTS: rep.ReceivedTS, RoomID: rep.RoomID, EventID: rep.EventID,
		UserID: rep.Reporter, Sender: rep.TargetUserID, Score: rep.Score, Resolved: rep.Resolved}
	if rep.Reason != "" {
		out.Reason = &rep.Reason
	}
	out.Name = a.stateString(ctx, rep.RoomID, "m.room.name", "name")
	out.CanonicalAlias = a.stateString(ctx, rep.RoomID, "m.room.canonical_alias", "alias")
	return out
}

// stateString is a string field of a room's current state event (nil if
// the event or the field is missing, or the room unknown).
func (a *Admin) stateString(ctx context.Context, roomID, eventType, field string) *string {
	ev, err := a.d.Rooms.StateEvent(ctx, roomID, eventType, "")
	if err != nil {
		return nil
	}
	var pdu struct {
		Content map[string]any `json:"content"`
	}
	if json.Unmarshal(ev.PDU, &pdu) != nil {
		return nil
	}
	if s, ok := pdu.Content[field].(string); ok {
		return &s
	}
	return nil
}

// reportID is the path's report ID, with Synapse's answer to a bad one.
func reportID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(httputil.Vars(r)["reportId"], 10, 64)
	if err != nil || id < 0 {
		return 0, httputil.InvalidParam("The report_id parameter must be a string representing a positive integer.")
	}
	return id, nil
}

// eventReportByID is an event report (a room or user report is not one:
// 404, as an unknown ID).
func (a *Admin) eventReportByID(ctx context.Context, id int64) (roomapi.Report, error) {
	rep, err := a.d.Rooms.GetReport(ctx, id)
	if errors.Is(err, roomapi.ErrReportNotFound) || err == nil && rep.Kind != roomapi.ReportEvent {
		return rep, httputil.NotFound("Event report not found")
	}
	return rep, err
}

// GET /_synapse/admin/v1/event_reports/{reportId}: one report with the
// reported event's JSON.
func (a *Admin) eventReport(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	id, err := reportID(r)
	if err != nil {
		return err
	}
	rep, err := a.eventReportByID(r.Context(), id)
	if err != nil {
		return err
	}
	out := a.reportJSON(r.Context(), rep)
	ev, err := a.d.Rooms.Event(r.Context(), rep.EventID)
	switch {
	case err == nil:
		out.EventJSON = ev.PDU
	case !errors.Is(err, roomapi.ErrEventNotFound):
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}

// DELETE /_synapse/admin/v1/event_reports/{reportId}
func (a *Admin) deleteEventReport(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	id, err := reportID(r)
	if err != nil {
		return err
	}
	if _, err := a.eventReportByID(r.Context(), id); err != nil {
		return err
	}
	if err := a.d.Rooms.DeleteReport(r.Context(), id); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// POST /_synapse/admin/v1/event_reports/{reportId}/resolve {"resolved":
// bool}: Myelin's extension (docs/api-extensions.md); resolved defaults to
// true.
func (a *Admin) resolveEventReport(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id, err := reportID(r)
	if err != nil {
		return err
	}
	req := struct {
		Resolved *bool `json:"resolved"`
	}{}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	resolved := req.Resolved == nil || *req.Resolved
	if _, err := a.eventReportByID(r.Context(), id); err != nil {
		return err
	}
	if err := a.d.Rooms.ResolveReport(r.Context(), id, resolved); err != nil {
		return err
	}
	c.Note("resolved " + strconv.FormatBool(resolved))
	httputil.WriteJSON(w, http.StatusOK, map[string]bool{"resolved": resolved})
	return nil
}
