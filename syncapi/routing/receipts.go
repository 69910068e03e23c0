package routing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// fullyRead is the read marker's type: room account data the server sets
// (spec: "Fully read markers"); clients set it through /read_markers or
// the receipt endpoint, never as account data.
const fullyRead = "m.fully_read"

// POST /v3/rooms/{roomId}/receipt/{receiptType}/{eventId} (spec:
// "Receipts"); m.fully_read sets the read marker as /read_markers does.
func (rt *Routes) postReceipt(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	v := httputil.Vars(r)
	roomID, receiptType, eventID := v["roomId"], v["receiptType"], v["eventId"]
	var body struct {
		ThreadID *string `json:"thread_id"`
	}
	if err := httputil.ReadJSON(r, &body); err != nil {
		return err
	}
	thread, err := receiptThread(receiptType, body.ThreadID)
	if err != nil {
		return err
	}
	if err := rt.mustBeJoined(r.Context(), dev.UserID, roomID); err != nil {
		return err
	}
	if err := rt.mustKnowEvent(r.Context(), roomID, eventID); err != nil {
		return err
	}
	if receiptType == fullyRead {
		err = rt.setFullyRead(r.Context(), dev, roomID, eventID)
	} else {
		err = rt.putReceipt(r.Context(), dev, roomID, receiptType, eventID, thread)
	}
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// receiptThread checks a receipt's type and thread_id (spec: POST
// /receipt, 400: a thread_id that is not a non-empty string, or given for
// m.fully_read) and returns the thread ("" for unthreaded).
//
// NOTSPEC: that the event belongs to the thread is not checked.
func receiptThread(receiptType string, threadID *string) (string, error) {
	switch receiptType {
	case api.ReceiptRead, api.ReceiptReadPrivate:
	case fullyRead:
		if threadID != nil {
			return "", httputil.InvalidParam("thread_id cannot be given for %s", fullyRead)
		}
		return "", nil
	default:
		return "", httputil.InvalidParam("Unknown receipt type %q", receiptType)
	}
	if threadID == nil {
		return "", nil
	}
	if *threadID != api.ThreadMain && !strings.HasPrefix(*threadID, "$") {
		return "", httputil.InvalidParam("thread_id field must be %q or a thread root's event ID", api.ThreadMain)
	}
	return *threadID, nil
}

// mustKnowEvent refuses an event this server does not have in the room.
func (rt *Routes) mustKnowEvent(ctx context.Context, roomID, eventID string) error {
	if !strings.HasPrefix(eventID, "$") {
		return httputil.InvalidParam("Invalid event ID %q", eventID)
	}
	ev, err := rt.store.EventByID(ctx, eventID)
	if errors.Is(err, storage.ErrNotFound) {
		// Perhaps just sent, and on its way to the sync stream.
		rt.catchUp(ctx, roomID)
		ev, err = rt.store.EventByID(ctx, eventID)
	}
	if errors.Is(err, storage.ErrNotFound) || (err == nil && ev.RoomID != roomID) {
		return httputil.NotFound("Event %s not found in %s", eventID, roomID)
	}
	return err
}

// putReceipt stores a local user's receipt, announcing it on the bus in
// the same transaction, and applies it to this process at once (the bus
// delivery does the same again, harmlessly).
func (rt *Routes) putReceipt(ctx context.Context, dev *userapi.Device, roomID, receiptType, eventID, thread string) error {
	rc := api.Receipt{RoomID: roomID, UserID: dev.UserID, Type: receiptType, EventID: eventID, ThreadID: thread, TS: time.Now().UnixMilli()}
	stored, err := rt.store.PutReceipt(ctx, &rc, rt.eph.AnnounceReceipt)
	if err != nil {
		return err
	}
	if stored {
		rt.eph.OnReceipt(rt.notifier, rc)
	}
	return nil
}

// setFullyRead moves the user's read marker (spec: "Fully read markers":
// room account data of type m.fully_read).
func (rt *Routes) setFullyRead(ctx context.Context, dev *userapi.Device, roomID, eventID string) error {
	content, err := json.Marshal(map[string]string{"event_id": eventID})
	if err != nil {
		return err
	}
	return rt.users.SetAccountData(ctx, dev.Localpart, roomID, fullyRead, content)
}

// POST /v3/rooms/{roomId}/read_markers (spec: "Fully read markers"): the
// read marker, and optionally a public and a private read receipt.
func (rt *Routes) postReadMarkers(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	var body struct {
		FullyRead   *string `json:"m.fully_read"`
		Read        *string `json:"m.read"`
		ReadPrivate *string `json:"m.read.private"`
	}
	if err := httputil.ReadJSON(r, &body); err != nil {
		return err
	}
	markers := map[string]string{}
	for t, id := range map[string]*string{fullyRead: body.FullyRead, api.ReceiptRead: body.Read, api.ReceiptReadPrivate: body.ReadPrivate} {
		if id != nil {
			markers[t] = *id
		}
	}
	if err := rt.mustBeJoined(r.Context(), dev.UserID, roomID); err != nil {
		return err
	}
	for _, t := range []string{fullyRead, api.ReceiptRead, api.ReceiptReadPrivate} {
		if id, ok := markers[t]; ok {
			if err := rt.mustKnowEvent(r.Context(), roomID, id); err != nil {
				return err
			}
		}
	}
	for _, t := range []string{fullyRead, api.ReceiptRead, api.ReceiptReadPrivate} {
		id, ok := markers[t]
		var err error
		switch {
		case !ok:
		case t == fullyRead:
			err = rt.setFullyRead(r.Context(), dev, roomID, id)
		default:
			err = rt.putReceipt(r.Context(), dev, roomID, t, id, "")
		}
		if err != nil {
			return err
		}
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}
