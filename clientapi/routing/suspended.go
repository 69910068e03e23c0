package routing

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// unlessSuspended is authed for an action a suspended account may not
// take: 403 M_USER_SUSPENDED (spec: "Account suspension"). Myelin refuses,
// as Synapse does, joining and knocking, sending and accepting invites,
// sending events, changing profile data, and also creating and upgrading
// rooms; reading, leaving, logging out and redacting one's own events stay
// allowed.
func (rt *Routes) unlessSuspended(h authedHandler) httputil.Handler {
	return rt.authed(func(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
		if dev.Suspended {
			return api.ErrUserSuspended
		}
		return h(w, r, dev)
	})
}

// ownRedactionIfSuspended is authed for PUT /redact: a suspended account
// may redact its own events only (spec: "Account suspension").
func (rt *Routes) ownRedactionIfSuspended(h authedHandler) httputil.Handler {
	return rt.authed(func(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
		if !dev.Suspended {
			return h(w, r, dev)
		}
		ev, err := rt.rooms.Event(r.Context(), httputil.Vars(r)["eventId"])
		if errors.Is(err, roomapi.ErrEventNotFound) {
			return h(w, r, dev) // the handler gives the answer for a missing event
		}
		if err != nil {
			return err
		}
		var pdu struct {
			Sender string `json:"sender"`
		}
		if err := json.Unmarshal(ev.PDU, &pdu); err != nil || pdu.Sender != dev.UserID {
			return api.ErrUserSuspended
		}
		return h(w, r, dev)
	})
}
