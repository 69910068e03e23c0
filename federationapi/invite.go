package federationapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// SendInvite implements fedapi.RemoteInviter: the invitee's server signs the
// invite (spec: PUT /_matrix/federation/v2/invite/{roomId}/{eventId}). Its
// refusal, or an answer that is not the invite signed, is a
// *fedapi.RemoteError.
func (f *FederationAPI) SendInvite(
	ctx context.Context,
	invite gomatrixserverlib.PDU,
	inviteRoomState []json.RawMessage,
) (gomatrixserverlib.PDU, error) {
	invitee, err := spec.NewUserID(*invite.StateKey(), true)
	if err != nil {
		return nil, fmt.Errorf("federationapi: the invitee %q: %w", *invite.StateKey(), err)
	}
	server := invitee.Domain()
	ver, err := gomatrixserverlib.GetRoomVersion(invite.Version())
	if err != nil {
		return nil, err
	}
	raw, err := f.askToSign(ctx, server, invite, inviteRoomState)
	if err != nil {
		return nil, fmt.Errorf("federationapi: inviting %s: %w", invitee.String(), err)
	}
	signed, err := untrustedPDU(ver, raw)
	if err != nil {
		return nil, badAnswer(server, "the signed invite is unreadable", err)
	}
	if err := gomatrixserverlib.VerifyEventSignatures(ctx, signed, f.keyRing, roomapi.UserIDForSender); err != nil {
		return nil, badAnswer(server, "the signed invite does not verify", err)
	}
	return signed, nil
}

// askToSign sends the invite to the invitee's server and returns the
// event it signed. The v1 endpoint is tried only where the spec says to:
// for rooms of versions 1 and 2, when v2 answers 400 or 404 (a server
// that predates it). In any other room a 404 is the server's answer (no
// such user), not a sign of an old server.
func (f *FederationAPI) askToSign(
	ctx context.Context,
	server spec.ServerName,
	invite gomatrixserverlib.PDU,
	inviteRoomState []json.RawMessage,
) (json.RawMessage, error) {
	// The state goes as the roomserver gave it (whole events, MSC4311),
	// not through gomatrixserverlib's InviteStrippedState, which strips.
	if inviteRoomState == nil {
		inviteRoomState = []json.RawMessage{}
	}
	req := map[string]any{"event": json.RawMessage(invite.JSON()), "room_version": invite.Version(), "invite_room_state": inviteRoomState}
	ids := url.PathEscape(invite.RoomID().String()) + "/" + url.PathEscape(invite.EventID())
	var res fclient.RespInviteV2
	err := f.ask(ctx, http.MethodPut, server, "/_matrix/federation/v2/invite/"+ids, req, &res)
	var re *fedapi.RemoteError
	if errors.As(err, &re) && (re.Status == http.StatusBadRequest || re.Status == http.StatusNotFound) &&
		(invite.Version() == gomatrixserverlib.RoomVersionV1 || invite.Version() == gomatrixserverlib.RoomVersionV2) {
		var v1 fclient.RespInvite
		err = f.ask(ctx, http.MethodPut, server, "/_matrix/federation/v1/invite/"+ids, invite, &v1)
		return json.RawMessage(v1.Event), err
	}
	return json.RawMessage(res.Event), err
}

// badAnswer is a remote server's answer that is not what was asked for.
func badAnswer(server spec.ServerName, what string, err error) error {
	return &fedapi.RemoteError{Server: string(server), Status: http.StatusOK, Message: what + ": " + err.Error(), Err: err}
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
	if req.RoomVersion == "" {
		return httputil.MissingParam("an invite needs room_version")
	}
	ver, err := gomatrixserverlib.GetRoomVersion(req.RoomVersion)
	if err != nil || !gomatrixserverlib.StableRoomVersion(req.RoomVersion) {
		return incompatibleVersion(req.RoomVersion)
	}
	if len(req.Event) == 0 {
		return httputil.MissingParam("an invite needs event")
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
			// 403, not 404: the spec gives /v2/invite only 400 and 403, and
			// a gomatrixserverlib sender (Dendrite) takes a 404 as "no v2"
			// and retries on v1.
			return httputil.Forbidden("no such user")
		}
	}
	// An invite is checked for the signatures of both servers (spec:
	// "Validating hashes and signatures on received events"), so this
	// server signs first.
	// The signed copy is read again from its JSON: PDU.Sign's result keeps
	// no room ID in room version 12 (derived from the create event), and
	// the auth rules compare it.
	ours := pdu.Sign(string(f.name), gomatrixserverlib.KeyID(f.opts.Key.ID), f.opts.Key.Private)
	signed, err := ver.NewEventFromTrustedJSON(ours.JSON(), false)
	if err != nil {
		return httputil.BadJSON("bad invite: %v", err)
	}
	if err := gomatrixserverlib.VerifyEventSignatures(r.Context(), signed, f.keyRing, roomapi.UserIDForSender); err != nil {
		return httputil.Forbidden("bad signature on the invite: %v", err)
	}
	err = f.store.RecordInvite(r.Context(), pdu.RoomID().String(), invitee.String(), string(origin),
		pdu.EventID(), string(ver.Version()), string(pdu.SenderID()))
	if err != nil {
		return err
	}
	if err := f.takeInInvite(r.Context(), origin, signed, req.InviteRoomState); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"event": signed})
	return nil
}

// maxInvitePrevs bounds the prev events of an invite fetched before it;
// invitePrevsWait, the time spent on them.
const (
	maxInvitePrevs  = 10
	invitePrevsWait = time.Minute
)

// takeInInvite hands a signed invite to the roomserver: at once, or, for a
// room this server has whose events before the invite it lacks, once they
// are fetched, after the answer (the inviting server may hold the room
// while it waits for the answer).
func (f *FederationAPI) takeInInvite(
	ctx context.Context, origin spec.ServerName, invite gomatrixserverlib.PDU, inviteRoomState []json.RawMessage,
) error {
	if !f.missingPrevs(ctx, invite) {
		return f.opts.Rooms.ReceiveInvite(ctx, invite, inviteRoomState)
	}
	later, cancel := context.WithTimeout(context.WithoutCancel(ctx), invitePrevsWait)
	go func() {
		defer cancel()
		f.receiveInviteAfterPrevs(later, origin, invite, inviteRoomState)
	}()
	return nil
}

// missingPrevs reports whether the event is of a room this server has and
// names prev events it lacks.
func (f *FederationAPI) missingPrevs(ctx context.Context, pdu gomatrixserverlib.PDU) bool {
	roomID := pdu.RoomID().String()
	if _, err := f.opts.Rooms.RoomVersion(ctx, roomID); err != nil {
		return false
	}
	have, err := f.opts.Rooms.RoomEvents(ctx, roomID, pdu.PrevEventIDs())
	return err == nil && len(have) < len(pdu.PrevEventIDs())
}

// receiveInviteAfterPrevs takes in an invite to a room this server has
// after fetching from origin the invite's prev events this server lacks
// (GET /event, then as any event from another server: missing events
// before them, checks), so that the invite takes its place after them in
// the room's timeline. The inviting server sends /invite at once, and the
// events before it through its queue, which may come later: without this
// the invite would be stored first and the events before it after it, out
// of the room's order. What cannot be fetched comes later through the
// room; the invite is taken in regardless (and comes again by /send).
//
// NOTSPEC: /invite is answered before the invite is stored here: the
// inviting server stores it and sends it to the room's servers, this one
// among them, so it is not lost.
func (f *FederationAPI) receiveInviteAfterPrevs(
	ctx context.Context, origin spec.ServerName, invite gomatrixserverlib.PDU, inviteRoomState []json.RawMessage,
) {
	roomID := invite.RoomID().String()
	log := f.opts.Log.WithField("room_id", roomID).WithField("event_id", invite.EventID())
	ver, err := f.opts.Rooms.RoomVersion(ctx, roomID)
	if err != nil {
		return
	}
	have, err := f.opts.Rooms.RoomEvents(ctx, roomID, invite.PrevEventIDs())
	if err != nil {
		log.WithError(err).Warn("reading an invite's prev events")
	}
	known := map[string]bool{}
	for _, p := range have {
		known[p.EventID()] = true
	}
	for i, id := range invite.PrevEventIDs() {
		if known[id] || i >= maxInvitePrevs {
			continue
		}
		p, err := f.fetchEvent(ctx, origin, ver, roomID, id)
		if err != nil {
			log.WithError(err).Info("an invite's prev event is not to be had")
			continue
		}
		if _, err := f.inputPDU(ctx, origin, p.JSON()); err != nil {
			log.WithError(err).Info("an invite's prev event was not taken in")
		}
	}
	if err := f.opts.Rooms.ReceiveInvite(ctx, invite, inviteRoomState); err != nil {
		log.WithError(err).Warn("taking in an invite")
	}
}
