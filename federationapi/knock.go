package federationapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// knockRoutes adds the knocking endpoints (spec: server-server API,
// "Knocking upon a room").
func (f *FederationAPI) knockRoutes() {
	f.router.Handle("/_matrix/federation/v1/make_knock/{roomId}/{userId}", f.authed(f.makeKnock)).Methods(http.MethodGet)
	f.router.Handle("/_matrix/federation/v1/send_knock/{roomId}/{eventId}", f.authed(f.sendKnock)).Methods(http.MethodPut)
}

// GET /_matrix/federation/v1/make_knock/{roomId}/{userId}?ver=…
func (f *FederationAPI) makeKnock(w http.ResponseWriter, r *http.Request, origin spec.ServerName, _ []byte) error {
	roomID, userID, err := f.templateRequest(r, origin)
	if err != nil {
		return err
	}
	ver, err := f.opts.Rooms.RoomVersion(r.Context(), roomID)
	if err != nil {
		return err
	}
	// Spec: "ver" (required) lists the versions the knocking server
	// supports; a room of another version is M_INCOMPATIBLE_ROOM_VERSION.
	if !slices.Contains(r.URL.Query()["ver"], string(ver.Version())) {
		return incompatibleVersion(ver.Version())
	}
	ver, proto, err := f.opts.Rooms.MakeKnock(r.Context(), roomID, userID)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"room_version": ver.Version(), "event": proto})
	return nil
}

// PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}: only a knock of
// a user of origin, of the path's room, is taken (400 for any other event).
func (f *FederationAPI) sendKnock(w http.ResponseWriter, r *http.Request, origin spec.ServerName, body []byte) error {
	if f.opts.Rooms == nil {
		return httputil.NotFound("this server has no rooms")
	}
	pdu, err := f.roomEventFromPath(r, origin, body)
	if err != nil {
		return err
	}
	if m, _ := pdu.Membership(); m != spec.Knock {
		return httputil.InvalidParam("not a knock event")
	}
	state, err := f.opts.Rooms.SendKnock(r.Context(), pdu)
	if err != nil {
		return err
	}
	if state == nil {
		state = []json.RawMessage{}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"knock_room_state": state})
	return nil
}

// KnockRemote implements fedapi.RemoteKnocker: a local user knocks on a room
// this server is not in, through the first of servers that lets it (spec:
// "Knocking upon a room": make_knock, then send_knock). The server knocked
// through is recorded as an invite's server is, so that the knock can be
// rescinded through it (LeaveRemote) and a join after an accepted knock
// tries it first. When no server lets it, the last refusal is returned.
func (f *FederationAPI) KnockRemote(ctx context.Context, roomID, userID string, servers []string, content map[string]any) error {
	if f.opts.Rooms == nil {
		return fmt.Errorf("federationapi: no roomserver in this process")
	}
	lastErr := fedapi.ErrNoServers
	for _, s := range servers {
		if spec.ServerName(s) == f.name {
			continue
		}
		knock, state, err := f.knockThrough(ctx, spec.ServerName(s), roomID, userID, content)
		if err != nil {
			lastErr = fmt.Errorf("knocking on %s through %s: %w", roomID, s, err)
			continue
		}
		unlock := f.outside.lock(roomID, userID)
		defer unlock()
		if err := f.store.RecordInvite(ctx, roomID, userID, s, knock.EventID(), string(knock.Version()), ""); err != nil {
			return err
		}
		return f.opts.Rooms.ReceiveKnock(ctx, knock, state)
	}
	return lastErr
}

// knockThrough makes, signs and sends a knock through server s, and returns
// it with the room's stripped state s gave.
func (f *FederationAPI) knockThrough(
	ctx context.Context, s spec.ServerName, roomID, userID string, content map[string]any,
) (gomatrixserverlib.PDU, []json.RawMessage, error) {
	res, err := f.Client.MakeKnock(ctx, f.name, s, roomID, userID, knockVersions())
	if err != nil {
		return nil, nil, fmt.Errorf("make_knock: %w", remoteError(s, err))
	}
	ver, err := gomatrixserverlib.GetRoomVersion(res.RoomVersion)
	if err != nil {
		return nil, nil, incompatibleVersion(res.RoomVersion)
	}
	proto := res.KnockEvent
	proto.Type, proto.RoomID, proto.SenderID, proto.StateKey = spec.MRoomMember, roomID, userID, &userID
	content["membership"] = spec.Knock
	b := ver.NewEventBuilderFromProtoEvent(&proto)
	if err := b.SetContent(content); err != nil {
		return nil, nil, err
	}
	ev, err := b.Build(f.now(), f.name, gomatrixserverlib.KeyID(f.opts.Key.ID), f.opts.Key.Private)
	if err != nil {
		return nil, nil, err
	}
	var sent struct {
		KnockRoomState []json.RawMessage `json:"knock_room_state"`
	}
	path := "/_matrix/federation/v1/send_knock/" + url.PathEscape(roomID) + "/" + url.PathEscape(ev.EventID())
	if err := f.ask(ctx, http.MethodPut, s, path, json.RawMessage(ev.JSON()), &sent); err != nil {
		return nil, nil, fmt.Errorf("send_knock: %w", err)
	}
	return ev, f.checkedStrippedState(ctx, ver, roomID, sent.KnockRoomState), nil
}

// checkedStrippedState keeps of the stripped state another server gave
// (knock_room_state) what may reach clients: spec v1.16, "Entries which are
// improperly signed or formatted SHOULD be removed by the server prior to
// supplying them over the Client-Server API". A whole event (one with
// signatures) must be of the room and verify; a stripped one (from a
// server before v1.16) is kept, since it is only ever shown as stripped
// state.
func (f *FederationAPI) checkedStrippedState(
	ctx context.Context, ver gomatrixserverlib.IRoomVersion, roomID string, state []json.RawMessage,
) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(state))
	for _, raw := range state {
		var head struct {
			Signatures json.RawMessage `json:"signatures"`
		}
		if json.Unmarshal(raw, &head) != nil {
			continue
		}
		if len(head.Signatures) == 0 {
			out = append(out, raw)
			continue
		}
		p, err := untrustedPDU(ver, raw)
		if err != nil || p.RoomID().String() != roomID ||
			gomatrixserverlib.VerifyEventSignatures(ctx, p, f.keyRing, roomapi.UserIDForSender) != nil {
			f.opts.Log.WithField("room_id", roomID).Info("knock_room_state: an improperly signed or formatted entry dropped")
			continue
		}
		// As read: redacted when its content hash fails.
		out = append(out, json.RawMessage(p.JSON()))
	}
	return out
}

// knockVersions are the room versions this server knocks in: the stable
// ones that have knocking (spec: room versions 7 and later).
func knockVersions() []gomatrixserverlib.RoomVersion {
	var out []gomatrixserverlib.RoomVersion
	for v, impl := range gomatrixserverlib.RoomVersions() {
		if gomatrixserverlib.StableRoomVersion(v) && impl.CheckKnockingAllowed(string(v), "@a:x", "@a:x", spec.Knock, spec.Leave) == nil {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// Compile-time check that FederationAPI knocks for the client API.
var _ fedapi.RemoteKnocker = (*FederationAPI)(nil)
