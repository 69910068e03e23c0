package internal

import (
	"context"
	"errors"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

var _ api.Reports = (*Roomserver)(nil)

// Report implements api.Reports (spec: "Reporting content").
func (rs *Roomserver) Report(ctx context.Context, nr api.NewReport) (int64, error) {
	switch nr.Kind {
	case api.ReportEvent:
		sender, err := rs.reportedEventSender(ctx, nr.RoomID, nr.EventID, nr.Reporter)
		if err != nil {
			return 0, err
		}
		nr.TargetUserID = sender
	case api.ReportRoom:
		// The reporter need not be in the room (spec: POST
		// /rooms/{roomId}/report), but the room must be one this server knows.
		if _, err := rs.loadRoom(ctx, nr.RoomID); err != nil {
			return 0, err
		}
	case api.ReportUser:
	default:
		return 0, &api.BadRequestError{Reason: "unknown report kind " + nr.Kind}
	}
	return rs.store.InsertReport(ctx, nr, rs.now().UnixMilli())
}

// reportedEventSender checks that reporter may report eventID in roomID
// (spec: POST /rooms/{roomId}/report/{eventId}: 404 when "the event was not
// found or you are not joined to the room", and MAY be when it was
// redacted) and returns the event's sender. Every refusal is the same
// ErrEventNotFound, so a reporter outside the room learns nothing.
func (rs *Roomserver) reportedEventSender(ctx context.Context, roomID, eventID, reporter string) (string, error) {
	m, err := rs.Membership(ctx, roomID, reporter)
	if errors.Is(err, api.ErrRoomNotFound) || err == nil && m != "join" {
		return "", api.ErrEventNotFound
	}
	if err != nil {
		return "", err
	}
	e, err := rs.store.EventByID(ctx, eventID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", api.ErrEventNotFound
	}
	if err != nil {
		return "", err
	}
	r, err := rs.store.RoomByNID(ctx, e.RoomNID)
	if err != nil {
		return "", err
	}
	if r.ID != roomID || e.Rejected || e.RedactedBy != "" {
		return "", api.ErrEventNotFound
	}
	return e.Sender, nil
}

// ListReports implements api.Reports.
func (rs *Roomserver) ListReports(ctx context.Context, q api.ReportsQuery) ([]api.Report, int, error) {
	return rs.store.ListReports(ctx, q)
}
