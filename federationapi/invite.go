package federationapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// SendInvite implements fedapi.RemoteInviter: the invitee's server signs the
// invite (spec: PUT /_matrix/federation/v2/invite/{roomId}/{eventId}).
func (f *FederationAPI) SendInvite(ctx context.Context, invite gomatrixserverlib.PDU, inviteRoomState []json.RawMessage) (gomatrixserverlib.PDU, error) {
	_, server, ok := strings.Cut(*invite.StateKey(), ":")
	if !ok {
		return nil, fmt.Errorf("federationapi: %q is not a user ID", *invite.StateKey())
	}
	var stripped []gomatrixserverlib.InviteStrippedState
	if b, err := json.Marshal(inviteRoomState); err == nil {
		_ = json.Unmarshal(b, &stripped)
	}
	req, err := fclient.NewInviteV2Request(invite, stripped)
	if err != nil {
		return nil, err
	}
	res, err := f.Client.SendInviteV2(ctx, f.name, spec.ServerName(server), req)
	if err != nil {
		return nil, err
	}
	ver, err := gomatrixserverlib.GetRoomVersion(invite.Version())
	if err != nil {
		return nil, err
	}
	signed, err := untrustedPDU(ver, res.Event)
	if err != nil {
		return nil, fmt.Errorf("federationapi: the signed invite from %s is unreadable: %w", server, err)
	}
	if err := gomatrixserverlib.VerifyEventSignatures(ctx, signed, f.keyRing, roomapi.UserIDForSender); err != nil {
		return nil, fmt.Errorf("federationapi: the signed invite from %s does not verify: %w", server, err)
	}
	return signed, nil
}

// PUT /_matrix/federation/v2/invite/{roomId}/{eventId}
func (f *FederationAPI) receiveInvite(w http.ResponseWriter, r *http.Request, origin spec.ServerName, body []byte) error {
	if f.opts.Rooms == nil {
		return httputil.Forbidden("this server has no rooms")
	}
	var req struct {
		RoomVersion     gomatrixserverlib.RoomVersion `json:"room_version"`
		Event           json.RawMessage               `json:"event"`
		InviteRoomState []json.RawMessage             `json:"invite_room_state"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return httputil.BadJSON("bad invite: %v", err)
	}
	ver, err := gomatrixserverlib.GetRoomVersion(req.RoomVersion)
	if err != nil || !gomatrixserverlib.StableRoomVersion(req.RoomVersion) {
		return incompatibleVersion(req.RoomVersion)
	}
	pdu, err := untrustedPDU(ver, req.Event)
	if err != nil {
		return httputil.BadJSON("bad invite event: %v", err)
	}
	v := httputil.Vars(r)
	if pdu.EventID() != v["eventId"] || pdu.RoomID().String() != v["roomId"] {
		return httputil.BadJSON("the event's ID or room does not match the path")
	}
	if m, err := pdu.Membership(); err != nil || pdu.Type() != spec.MRoomMember || m != spec.Invite || pdu.StateKey() == nil {
		return httputil.BadJSON("not an invite")
	}
	invitee, err := spec.NewUserID(*pdu.StateKey(), true)
	if err != nil || invitee.Domain() != f.name {
		return httputil.BadJSON("the invitee is not a user of this server")
	}
	sender, err := spec.NewUserID(string(pdu.SenderID()), true)
	if err != nil || sender.Domain() != origin {
		return httputil.Forbidden("the inviter is not a user of %s", origin)
	}
	if f.opts.Profiles != nil {
		if acct, err := f.opts.Profiles.Account(r.Context(), localpart(*invitee)); err != nil || acct.Deactivated {
			return httputil.NotFound("no such user")
		}
	}
	// An invite is checked for the signatures of both servers (spec:
	// "Validating hashes and signatures on received events"), so this
	// server signs first.
	// The signed copy is read again from its JSON: PDU.Sign's result keeps
	// no room ID in room version 12 (derived from the create event), and
	// the auth rules compare it.
	signed, err := ver.NewEventFromTrustedJSON(pdu.Sign(string(f.name), gomatrixserverlib.KeyID(f.opts.Key.ID), f.opts.Key.Private).JSON(), false)
	if err != nil {
		return httputil.BadJSON("bad invite: %v", err)
	}
	if err := gomatrixserverlib.VerifyEventSignatures(r.Context(), signed, f.keyRing, roomapi.UserIDForSender); err != nil {
		return httputil.Forbidden("bad signature on the invite: %v", err)
	}
	if err := f.store.RecordInvite(r.Context(), pdu.RoomID().String(), invitee.String(), string(origin), pdu.EventID(), string(ver.Version()), string(pdu.SenderID())); err != nil {
		return err
	}
	if err := f.opts.Rooms.ReceiveInvite(r.Context(), signed, req.InviteRoomState); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"event": signed})
	return nil
}
