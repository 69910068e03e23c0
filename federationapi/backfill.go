package federationapi

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// maxAuthFetch bounds the auth events fetched one by one for one backfill.
const maxAuthFetch = 50

// Backfill fetches up to limit events before from (event IDs of the oldest
// events this server has of the room) from one of the room's other servers
// (spec: GET /_matrix/federation/v1/backfill/{roomId}), checks them
// (signatures; a content hash that fails gives the redacted form; auth
// events, fetched when unknown) and stores them as the room's history. It
// returns the events that passed, oldest first: those stored before too,
// so the caller can place any it lacks. No server to ask gives ErrNoServers.
// A server whose answer holds nothing before from is passed over for the
// next.
func (f *FederationAPI) Backfill(ctx context.Context, roomID string, from []string, limit int) ([]gomatrixserverlib.PDU, error) {
	if f.opts.Rooms == nil {
		return nil, fedapi.ErrNoServers
	}
	ver, err := f.opts.Rooms.RoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	servers, err := f.opts.Rooms.JoinedServers(ctx, roomID)
	if err != nil {
		return nil, err
	}
	lastErr := fedapi.ErrNoServers
	var dry []gomatrixserverlib.PDU
	answered := false
	for _, s := range backfillServers(servers, string(f.name), f.creatorServer(ctx, roomID)) {
		out, err := f.backfillFrom(ctx, spec.ServerName(s), ver, roomID, from, limit)
		if err != nil {
			lastErr = err
			f.opts.Log.WithError(err).WithField("room_id", roomID).WithField("server_name", s).Info("backfill failed")
			continue
		}
		if !beyond(out, from) {
			// Nothing before the events asked from: this server may have
			// joined after them and not fetched that history itself.
			dry, answered = out, true
			continue
		}
		return out, nil
	}
	if answered {
		return dry, nil
	}
	return nil, lastErr
}

// backfillServers orders a room's servers (self left out) for a backfill:
// the creator's server first, since it has the room's history from the
// start, then the others in random order to spread the load (spec:
// "Backfilling and retrieving missing events" names no order; history
// visibility is applied by the server asked).
func backfillServers(servers []string, self, creator string) []string {
	out := make([]string, 0, len(servers))
	for _, s := range servers {
		if s != self && s != creator {
			out = append(out, s)
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	if creator != "" && creator != self && slices.Contains(servers, creator) {
		out = append([]string{creator}, out...)
	}
	return out
}

// creatorServer is the server of the user who created the room: the room
// ID's domain before room version 12; from room version 12 on the room ID
// is the create event's (spec: room version 12, "room IDs"), whose
// sender's domain it is ("" when not known).
func (f *FederationAPI) creatorServer(ctx context.Context, roomID string) string {
	if _, domain, ok := strings.Cut(roomID, ":"); ok {
		return domain
	}
	evs, err := f.opts.Rooms.RoomEvents(ctx, roomID, []string{"$" + strings.TrimPrefix(roomID, "!")})
	if err != nil || len(evs) != 1 {
		return ""
	}
	_, domain, _ := strings.Cut(string(evs[0].SenderID()), ":")
	return domain
}

// beyond reports whether pdus hold an event other than the from ones.
func beyond(pdus []gomatrixserverlib.PDU, from []string) bool {
	for _, p := range pdus {
		if !slices.Contains(from, p.EventID()) {
			return true
		}
	}
	return false
}

func (f *FederationAPI) backfillFrom(
	ctx context.Context,
	s spec.ServerName,
	ver gomatrixserverlib.IRoomVersion,
	roomID string,
	from []string,
	limit int,
) ([]gomatrixserverlib.PDU, error) {
	txn, err := f.Client.Backfill(ctx, f.name, s, roomID, limit, from)
	if err != nil {
		return nil, fmt.Errorf("backfill from %s: %w", s, remoteError(s, err))
	}
	var pdus []gomatrixserverlib.PDU
	have := map[string]bool{}
	for _, raw := range txn.PDUs {
		// NewEventFromUntrustedJSON redacts an event whose content hash
		// does not match (spec: "Checks performed on receipt of a PDU").
		p, err := untrustedPDU(ver, raw)
		if err != nil || p.RoomID().String() != roomID || have[p.EventID()] {
			continue
		}
		if gomatrixserverlib.VerifyEventSignatures(ctx, p, f.keyRing, roomapi.UserIDForSender) != nil {
			continue
		}
		have[p.EventID()] = true
		pdus = append(pdus, p)
	}
	if len(pdus) == 0 {
		return nil, nil
	}
	if err := f.fetchAuthEvents(ctx, s, ver, roomID, pdus, have); err != nil {
		return nil, err
	}
	return f.opts.Rooms.StoreHistory(ctx, roomID, pdus)
}

// fetchAuthEvents stores, as outliers, the auth events of pdus that are
// neither among them nor stored, fetched from s.
func (f *FederationAPI) fetchAuthEvents(
	ctx context.Context,
	s spec.ServerName,
	ver gomatrixserverlib.IRoomVersion,
	roomID string,
	pdus []gomatrixserverlib.PDU,
	have map[string]bool,
) error {
	var want []string
	for _, p := range pdus {
		for _, id := range p.AuthEventIDs() {
			if !have[id] {
				have[id] = true
				want = append(want, id)
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	stored, err := f.opts.Rooms.RoomEvents(ctx, roomID, want)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, p := range stored {
		known[p.EventID()] = true
	}
	var fetched []gomatrixserverlib.PDU
	for _, id := range want {
		if known[id] {
			continue
		}
		if len(fetched) >= maxAuthFetch {
			break // the events that need the rest are left out
		}
		p, err := f.fetchEvent(ctx, s, ver, roomID, id)
		if err != nil {
			if ctx.Err() != nil {
				return errors.Join(ctx.Err(), err)
			}
			continue
		}
		fetched = append(fetched, p)
	}
	// Checked against their own auth events, as every event taken from
	// another server is; those that do not pass are not used.
	_, err = f.opts.Rooms.StoreHistory(ctx, roomID, fetched)
	return err
}

// fetchEvent gets one event of a room from s (spec: GET
// /_matrix/federation/v1/event/{eventId}): the event asked for, of that
// room, with valid signatures.
func (f *FederationAPI) fetchEvent(
	ctx context.Context,
	s spec.ServerName,
	ver gomatrixserverlib.IRoomVersion,
	roomID, id string,
) (gomatrixserverlib.PDU, error) {
	txn, err := f.Client.GetEvent(ctx, f.name, s, id)
	if err != nil {
		return nil, fmt.Errorf("event %s from %s: %w", id, s, remoteError(s, err))
	}
	if len(txn.PDUs) != 1 {
		return nil, fmt.Errorf("event %s from %s: %d events in the answer", id, s, len(txn.PDUs))
	}
	p, err := untrustedPDU(ver, txn.PDUs[0])
	if err != nil || p.EventID() != id || p.RoomID().String() != roomID {
		return nil, fmt.Errorf("event %s from %s is not what was asked for", id, s)
	}
	if err := gomatrixserverlib.VerifyEventSignatures(ctx, p, f.keyRing, roomapi.UserIDForSender); err != nil {
		return nil, fmt.Errorf("event %s: %w", id, err)
	}
	return p, nil
}
