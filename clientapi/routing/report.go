package routing

import (
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// setupReports registers the reporting API (spec: "Reporting content",
// report_content.yaml). Reports are stored for the server's admins.
func (rt *Routes) setupReports(v3 prefixed) {
	v3.Handle("/rooms/{roomId}/report/{eventId}", rt.authed(rt.reportEvent)).Methods(http.MethodPost)
	v3.Handle("/rooms/{roomId}/report", rt.authed(rt.reportRoom)).Methods(http.MethodPost)
	v3.Handle("/users/{userId}/report", rt.authed(rt.reportUser)).Methods(http.MethodPost)
}

// reportBody is a report's request body. Reason is required for rooms and
// users, optional for events; score was removed from event reports in spec
// v1.18 but older clients send it (-100: most offensive, 0: inoffensive).
type reportBody struct {
	Reason *string `json:"reason"`
	Score  *int64  `json:"score"`
}

func readReport(r *http.Request, reasonRequired bool) (reportBody, error) {
	var b reportBody
	if err := httputil.ReadJSON(r, &b); err != nil {
		return b, err
	}
	if b.Reason == nil && reasonRequired {
		return b, httputil.BadJSON("Missing reason")
	}
	if b.Score != nil && (*b.Score < -100 || *b.Score > 0) {
		return b, httputil.InvalidParam("score must be between -100 and 0")
	}
	return b, nil
}

func (b reportBody) reason() string {
	if b.Reason == nil {
		return ""
	}
	return *b.Reason
}

// POST /v3/rooms/{roomId}/report/{eventId}: the reporter must be joined and
// the event in the room (else 404, whichever it is).
func (rt *Routes) reportEvent(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	v := httputil.Vars(r)
	if err := checkRoomID(v["roomId"]); err != nil {
		return err
	}
	if err := checkEventID(v["eventId"]); err != nil {
		return err
	}
	b, err := readReport(r, false)
	if err != nil {
		return err
	}
	return rt.report(w, r, roomapi.NewReport{Kind: roomapi.ReportEvent, Reporter: dev.UserID, RoomID: v["roomId"],
		EventID: v["eventId"], Reason: b.reason(), Score: b.Score})
}

// POST /v3/rooms/{roomId}/report: any room this server knows, joined or not.
func (rt *Routes) reportRoom(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	b, err := readReport(r, true)
	if err != nil {
		return err
	}
	if b.Score != nil {
		return httputil.BadJSON("A room report has no score")
	}
	return rt.report(w, r, roomapi.NewReport{Kind: roomapi.ReportRoom, Reporter: dev.UserID, RoomID: roomID, Reason: b.reason()})
}

// POST /v3/users/{userId}/report: a local user must exist (deactivated
// accounts still do); another server's user is taken as reported, since
// only their server could say whether they exist (the spec lets a server
// answer 200 regardless).
func (rt *Routes) reportUser(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	userID := httputil.Vars(r)["userId"]
	l, local, err := rt.localUser(userID)
	if err != nil {
		return err
	}
	b, err := readReport(r, true)
	if err != nil {
		return err
	}
	if b.Score != nil {
		return httputil.BadJSON("A user report has no score")
	}
	if local {
		if _, err := rt.users.Account(r.Context(), l); errors.Is(err, api.ErrNoSuchAccount) {
			return httputil.NotFound("The user was not found")
		} else if err != nil {
			return err
		}
	}
	return rt.report(w, r, roomapi.NewReport{Kind: roomapi.ReportUser, Reporter: dev.UserID, TargetUserID: userID, Reason: b.reason()})
}

// report stores nr and answers {} once it is stored.
func (rt *Routes) report(w http.ResponseWriter, r *http.Request, nr roomapi.NewReport) error {
	id, err := rt.rooms.Report(r.Context(), nr)
	if err != nil {
		return err
	}
	httputil.Logger(r.Context()).WithField("report_id", id).WithField(httputil.FieldRoomID, nr.RoomID).Info("content reported")
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}
