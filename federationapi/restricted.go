package federationapi

import (
	"encoding/json"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// signAuthorisedJoin adds this server's signature to a join that names one
// of its users in join_authorised_via_users_server (spec: server-server
// API, PUT /_matrix/federation/v2/send_join: the resident server that
// authorised a restricted join signs the event and returns it in "event";
// every server checks that the authorising user's server signed it). Other
// events are returned as they are. Whether the join may be authorised (the
// user meets the join rules' conditions, the named user is joined and may
// invite) is the roomserver's to decide before the event is taken in.
func (f *FederationAPI) signAuthorisedJoin(pdu gomatrixserverlib.PDU) gomatrixserverlib.PDU {
	if pdu.Type() != spec.MRoomMember {
		return pdu
	}
	if m, err := pdu.Membership(); err != nil || m != spec.Join {
		return pdu
	}
	var c struct {
		Via string `json:"join_authorised_via_users_server"`
	}
	if err := json.Unmarshal(pdu.Content(), &c); err != nil || c.Via == "" {
		return pdu
	}
	user, err := spec.NewUserID(c.Via, true)
	if err != nil || user.Domain() != f.name {
		return pdu
	}
	// Sign is promoted from an embedded type in some room versions (12)
	// and returns that type: the signed JSON is read again as an event of
	// the room's version.
	signed := pdu.Sign(string(f.name), gomatrixserverlib.KeyID(f.opts.Key.ID), f.opts.Key.Private).JSON()
	ver, err := gomatrixserverlib.GetRoomVersion(pdu.Version())
	if err != nil {
		return pdu
	}
	out, err := ver.NewEventFromTrustedJSON(signed, false)
	if err != nil {
		return pdu
	}
	return out
}
