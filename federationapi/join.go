package federationapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// joinClient adapts the federation client to gomatrixserverlib.PerformJoin.
type joinClient struct{ c fclient.FederationClient }

// MakeJoin implements gomatrixserverlib.FederatedJoinClient.
func (j joinClient) MakeJoin(
	ctx context.Context,
	origin, s spec.ServerName,
	roomID, userID string,
) (gomatrixserverlib.MakeJoinResponse, error) {
	res, err := j.c.MakeJoin(ctx, origin, s, roomID, userID)
	return &res, err
}

// SendJoin implements gomatrixserverlib.FederatedJoinClient.
func (j joinClient) SendJoin(
	ctx context.Context,
	origin, s spec.ServerName,
	event gomatrixserverlib.PDU,
) (gomatrixserverlib.SendJoinResponse, error) {
	res, err := j.c.SendJoin(ctx, origin, s, event)
	return &res, err
}

// JoinRemote joins a local user to a room this server is not in, through the
// first of servers that lets it (spec: "Joining Rooms": make_join, then
// send_join; the returned state and auth chain are checked — signatures,
// hashes, auth rules — before the room is stored). It returns the join
// event's ID. When no server lets it, the last server's refusal (a
// *fedapi.RemoteError when it answered) is returned.
func (f *FederationAPI) JoinRemote(ctx context.Context, roomID, userID string, servers []string, content map[string]any) (string, error) {
	if f.opts.Rooms == nil {
		return "", errors.New("federationapi: no roomserver in this process")
	}
	user, err := spec.NewUserID(userID, true)
	if err != nil {
		return "", err
	}
	room, err := spec.NewRoomID(roomID)
	if err != nil {
		return "", fmt.Errorf("federationapi: %q: %w", roomID, err)
	}
	// An invite's server comes first: it is in the room.
	if inv, err := f.store.InviteOf(ctx, roomID, userID); err == nil {
		servers = append([]string{inv.Via}, servers...)
	}
	lastErr := fedapi.ErrNoServers
	for _, s := range servers {
		if spec.ServerName(s) == f.name {
			continue
		}
		f.flushTo(ctx, s)
		// PerformJoin adds the template's keys (a restricted join's
		// authoriser) to the content: each server's attempt starts afresh.
		res, ferr := gomatrixserverlib.PerformJoin(ctx, joinClient{f.Client}, gomatrixserverlib.PerformJoinInput{
			UserID: user, RoomID: room, ServerName: spec.ServerName(s), Content: maps.Clone(content),
			PrivateKey: f.opts.Key.Private, KeyID: gomatrixserverlib.KeyID(f.opts.Key.ID), KeyRing: f.keyRing,
			EventProvider: f.eventProvider(ctx, spec.ServerName(s)), UserIDQuerier: roomapi.UserIDForSender,
		})
		if ferr != nil {
			lastErr = fmt.Errorf("joining %s through %s: %w", roomID, s, remoteError(spec.ServerName(s), ferr.Err))
			continue
		}
		ver, err := gomatrixserverlib.GetRoomVersion(res.JoinEvent.Version())
		if err != nil {
			return "", err
		}
		state := res.StateSnapshot.GetStateEvents().TrustedEvents(ver.Version(), false)
		chain := res.StateSnapshot.GetAuthEvents().TrustedEvents(ver.Version(), false)
		gap := f.rejoinGap(ctx, spec.ServerName(s), ver, res.JoinEvent)
		if err := f.opts.Rooms.ImportRoom(ctx, ver, state, chain, gap, res.JoinEvent); err != nil {
			return "", err
		}
		return res.JoinEvent.EventID(), nil
	}
	return "", lastErr
}

// joinFlushLimit bounds how long a join waits for the events queued for
// the server it goes through.
const joinFlushLimit = time.Second

// flushTo delivers what this server has queued for s before a join through
// it, for at most joinFlushLimit: s judges the join by the room's state as
// it has it, which must include our users' latest events (a restricted
// join right after leaving the allowed room must fail; a join must not be
// taken for a join -> join change because our leave is still queued).
func (f *FederationAPI) flushTo(ctx context.Context, s string) {
	if f.queues == nil {
		return
	}
	if !f.queues.Flush(ctx, s, joinFlushLimit) {
		f.opts.Log.WithField("destination", s).Debug("joining through a server whose queue did not empty in time")
	}
}

// eventProvider fetches events a send_join answer referred to but did not
// include, from the server joined through.
func (f *FederationAPI) eventProvider(ctx context.Context, s spec.ServerName) gomatrixserverlib.EventProvider {
	return func(ver gomatrixserverlib.RoomVersion, ids []string) ([]gomatrixserverlib.PDU, error) {
		impl, err := gomatrixserverlib.GetRoomVersion(ver)
		if err != nil {
			return nil, err
		}
		var out []gomatrixserverlib.PDU
		for _, id := range ids {
			txn, err := f.Client.GetEvent(ctx, f.name, s, id)
			if err != nil {
				return nil, err
			}
			for _, raw := range txn.PDUs {
				p, err := untrustedPDU(impl, raw)
				if err == nil {
					out = append(out, p)
				}
			}
		}
		return out, nil
	}
}

// ResolveRemoteAlias asks an alias's server for its room (spec: GET
// /_matrix/federation/v1/query/directory).
func (f *FederationAPI) ResolveRemoteAlias(ctx context.Context, alias string) (string, []string, error) {
	_, server, ok := strings.Cut(alias, ":")
	if !ok {
		return "", nil, fmt.Errorf("federationapi: %q is not an alias", alias)
	}
	res, err := f.Client.LookupRoomAlias(ctx, f.name, spec.ServerName(server), alias)
	if err != nil {
		return "", nil, fmt.Errorf("federationapi: resolving %s: %w", alias, remoteError(spec.ServerName(server), err))
	}
	servers := make([]string, len(res.Servers))
	for i, s := range res.Servers {
		servers[i] = string(s)
	}
	return res.RoomID, servers, nil
}

// LeaveRemote rejects an invite to (or rescinds a knock on) a room this
// server is not in, through the inviting (knocked-through) server (spec:
// "Leaving Rooms (Rejecting Invites)": make_leave, then send_leave), or,
// when that server does not take it, locally.
func (f *FederationAPI) LeaveRemote(ctx context.Context, roomID, userID string) error {
	inv, err := f.store.InviteOf(ctx, roomID, userID)
	if err != nil {
		return fedapi.ErrNoServers
	}
	if err := f.leaveThrough(ctx, inv.Via, roomID, userID); err != nil {
		// The invite must not outlive the inviting server: the leave is
		// recorded here only (see RejectInviteLocally).
		f.opts.Log.WithError(err).WithField("room_id", roomID).WithField("user_id", userID).
			Info("the inviting server did not take the rejection; rejecting locally")
		if err := f.opts.Rooms.RejectInviteLocally(ctx, roomID, userID); err != nil {
			return err
		}
	}
	return f.store.ForgetInvite(ctx, roomID, userID)
}

// leaveThrough makes and sends a leave through via (make_leave, send_leave).
func (f *FederationAPI) leaveThrough(ctx context.Context, via, roomID, userID string) error {
	res, err := f.Client.MakeLeave(ctx, f.name, spec.ServerName(via), roomID, userID)
	if err != nil {
		return fmt.Errorf("make_leave through %s: %w", via, remoteError(spec.ServerName(via), err))
	}
	ver, err := gomatrixserverlib.GetRoomVersion(res.RoomVersion)
	if err != nil {
		return err
	}
	proto := res.LeaveEvent
	proto.Type, proto.RoomID, proto.SenderID, proto.StateKey = spec.MRoomMember, roomID, userID, &userID
	b := ver.NewEventBuilderFromProtoEvent(&proto)
	if err := b.SetContent(map[string]string{"membership": spec.Leave}); err != nil {
		return err
	}
	ev, err := b.Build(f.now(), f.name, gomatrixserverlib.KeyID(f.opts.Key.ID), f.opts.Key.Private)
	if err != nil {
		return err
	}
	if err := f.Client.SendLeave(ctx, f.name, spec.ServerName(via), ev); err != nil {
		return fmt.Errorf("send_leave through %s: %w", via, remoteError(spec.ServerName(via), err))
	}
	return f.opts.Rooms.RejectInvite(ctx, ev)
}

// maxRejoinGap bounds the events fetched to bridge a rejoin.
const maxRejoinGap = 100

// rejoinGap returns, for a room this server had and left, the events
// between its last ones and the join (spec: POST
// /_matrix/federation/v1/get_missing_events), signatures checked; nil for a
// room new to it, or when s does not answer (the timeline then has a gap).
func (f *FederationAPI) rejoinGap(
	ctx context.Context,
	s spec.ServerName,
	ver gomatrixserverlib.IRoomVersion,
	join gomatrixserverlib.PDU,
) []gomatrixserverlib.PDU {
	roomID := join.RoomID().String()
	latest, err := f.opts.Rooms.LatestEventIDs(ctx, roomID)
	if err != nil || len(latest) == 0 {
		return nil
	}
	res, err := f.Client.LookupMissingEvents(ctx, f.name, s, roomID,
		fclient.MissingEvents{Limit: maxRejoinGap, EarliestEvents: latest, LatestEvents: []string{join.EventID()}}, ver.Version())
	if err != nil {
		f.opts.Log.WithError(err).WithField("room_id", roomID).Info("rejoin: the events missed since leaving are not to be had")
		return nil
	}
	var out []gomatrixserverlib.PDU
	for _, p := range untrustedPDUs(ver, res.Events) {
		if p.RoomID().String() != roomID || p.EventID() == join.EventID() {
			continue
		}
		if gomatrixserverlib.VerifyEventSignatures(ctx, p, f.keyRing, roomapi.UserIDForSender) == nil {
			out = append(out, p)
		}
	}
	return out
}
