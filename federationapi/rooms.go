package federationapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

func incompatibleVersion(v gomatrixserverlib.RoomVersion) error {
	return (&httputil.MatrixError{Status: http.StatusBadRequest, ErrCode: "M_INCOMPATIBLE_ROOM_VERSION",
		Message: "your server does not support the room's version"}).With("room_version", string(v))
}

// templateRequest checks a make_join or make_leave request: the user must
// be one of origin's, and the room's server ACL must let origin in.
func (f *FederationAPI) templateRequest(r *http.Request, origin spec.ServerName) (roomID, userID string, err error) {
	if f.opts.Rooms == nil {
		return "", "", httputil.NotFound("this server has no rooms")
	}
	v := httputil.Vars(r)
	user, err := spec.NewUserID(v["userId"], true)
	if err != nil {
		return "", "", httputil.BadJSON("bad user ID")
	}
	if user.Domain() != origin {
		return "", "", httputil.Forbidden("%s cannot act for a user of %s", origin, user.Domain())
	}
	if !f.opts.Rooms.ServerAllowed(r.Context(), v["roomId"], string(origin)) {
		return "", "", httputil.Forbidden("the room's server ACL denies %s", origin)
	}
	return v["roomId"], user.String(), nil
}

// GET /_matrix/federation/v1/make_join/{roomId}/{userId}?ver=…
func (f *FederationAPI) makeJoin(w http.ResponseWriter, r *http.Request, origin spec.ServerName, _ []byte) error {
	roomID, userID, err := f.templateRequest(r, origin)
	if err != nil {
		return err
	}
	ver, proto, err := f.opts.Rooms.MakeJoin(r.Context(), roomID, userID)
	if err != nil {
		return err
	}
	// Spec: "ver" lists the versions the joining server supports (v1 when
	// none is given).
	supported := r.URL.Query()["ver"]
	if len(supported) == 0 {
		supported = []string{"1"}
	}
	if !slices.Contains(supported, string(ver.Version())) {
		return incompatibleVersion(ver.Version())
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"room_version": ver.Version(), "event": proto})
	return nil
}

// GET /_matrix/federation/v1/make_leave/{roomId}/{userId}
func (f *FederationAPI) makeLeave(w http.ResponseWriter, r *http.Request, origin spec.ServerName, _ []byte) error {
	roomID, userID, err := f.templateRequest(r, origin)
	if err != nil {
		return err
	}
	ver, proto, err := f.opts.Rooms.MakeLeave(r.Context(), roomID, userID)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"room_version": ver.Version(), "event": proto})
	return nil
}

// PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}
func (f *FederationAPI) sendLeave(w http.ResponseWriter, r *http.Request, origin spec.ServerName, body []byte) error {
	if f.opts.Rooms == nil {
		return httputil.NotFound("this server has no rooms")
	}
	pdu, err := f.roomEventFromPath(r, origin, body)
	if err != nil {
		return err
	}
	if err := f.opts.Rooms.SendLeave(r.Context(), pdu); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// roomEventFromPath reads a membership event sent to /send_join or
// /send_leave: of the path's room and ID, sent by a user of origin, signed.
func (f *FederationAPI) roomEventFromPath(r *http.Request, origin spec.ServerName, body []byte) (gomatrixserverlib.PDU, error) {
	v := httputil.Vars(r)
	if !f.opts.Rooms.ServerAllowed(r.Context(), v["roomId"], string(origin)) {
		return nil, httputil.Forbidden("the room's server ACL denies %s", origin)
	}
	ver, err := f.opts.Rooms.RoomVersion(r.Context(), v["roomId"])
	if err != nil {
		return nil, err
	}
	pdu, err := untrustedPDU(ver, body)
	if err != nil {
		return nil, httputil.BadJSON("bad event: %v", err)
	}
	if pdu.EventID() != v["eventId"] || pdu.RoomID().String() != v["roomId"] {
		return nil, httputil.BadJSON("the event's ID or room does not match the path")
	}
	sender, err := spec.NewUserID(string(pdu.SenderID()), true)
	if err != nil || sender.Domain() != origin {
		return nil, httputil.Forbidden("the event's sender is not a user of %s", origin)
	}
	// Only a membership event of its sender (the endpoint checks which
	// membership) is read further: a malformed one is a bad request, not
	// a signature failure.
	if pdu.Type() != spec.MRoomMember || pdu.StateKey() == nil || *pdu.StateKey() != string(pdu.SenderID()) {
		return nil, httputil.BadJSON("not a membership event of its sender")
	}
	if _, err := pdu.Membership(); err != nil {
		return nil, httputil.BadJSON("no membership in the event: %v", err)
	}
	pdu = f.signAuthorisedJoin(pdu)
	if err := gomatrixserverlib.VerifyEventSignatures(r.Context(), pdu, f.keyRing, roomapi.UserIDForSender); err != nil {
		return nil, httputil.Forbidden("bad signature on the event: %v", err)
	}
	return pdu, nil
}

// PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}
func (f *FederationAPI) sendJoin(w http.ResponseWriter, r *http.Request, origin spec.ServerName, body []byte) error {
	if f.opts.Rooms == nil {
		return httputil.NotFound("this server has no rooms")
	}
	pdu, err := f.roomEventFromPath(r, origin, body)
	if err != nil {
		return err
	}
	state, chain, err := f.opts.Rooms.SendJoin(r.Context(), pdu)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{
		"origin": f.name, "event": pdu, "state": jsonList(state), "auth_chain": jsonList(chain), "members_omitted": false,
	})
	return nil
}

// PUT /_matrix/federation/v1/send/{txnId}
func (f *FederationAPI) send(w http.ResponseWriter, r *http.Request, origin spec.ServerName, body []byte) error {
	var txn struct {
		Origin         string            `json:"origin"`
		OriginServerTS int64             `json:"origin_server_ts"`
		PDUs           []json.RawMessage `json:"pdus"`
		EDUs           []json.RawMessage `json:"edus"`
	}
	if err := json.Unmarshal(body, &txn); err != nil {
		return httputil.BadJSON("bad transaction: %v", err)
	}
	// Spec: at most 50 PDUs and 100 EDUs per transaction.
	if len(txn.PDUs) > 50 || len(txn.EDUs) > 100 {
		return httputil.BadJSON("at most 50 PDUs and 100 EDUs per transaction")
	}
	// The origin is up: send it what waits for it now.
	if f.queues != nil {
		f.queues.Wake(string(origin))
	}
	key := string(origin) + "\x00" + httputil.Vars(r)["txnId"]
	resp, err := f.txns.do(r.Context(), key, func(ctx context.Context) (any, error) {
		results := map[string]any{}
		for _, raw := range txn.PDUs {
			id, err := f.inputPDU(ctx, origin, raw)
			if id == "" {
				continue // unreadable: no event ID to answer for
			}
			if err != nil {
				results[id] = map[string]string{"error": err.Error()}
			} else {
				results[id] = map[string]any{}
			}
		}
		if err := f.inputEDUs(ctx, origin, txn.EDUs); err != nil {
			return nil, err
		}
		return map[string]any{"pdus": results}, nil
	})
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// inputPDU checks one PDU of a transaction and hands it to the roomserver,
// fetching missing prev events from origin first. It returns the event ID
// ("" when it cannot be read).
func (f *FederationAPI) inputPDU(ctx context.Context, origin spec.ServerName, raw json.RawMessage) (string, error) {
	var head struct {
		RoomID string `json:"room_id"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || f.opts.Rooms == nil {
		return "", nil
	}
	ver, err := f.opts.Rooms.RoomVersion(ctx, head.RoomID)
	if err != nil {
		// A room this server is not in: nothing to answer for, but for an
		// invite of one of its users being taken back.
		return f.inviteRescinded(ctx, head.RoomID, raw), nil
	}
	if !f.opts.Rooms.ServerAllowed(ctx, head.RoomID, string(origin)) {
		var id struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(raw, &id)
		if p, perr := untrustedPDU(ver, raw); perr == nil {
			id.EventID = p.EventID()
		}
		return id.EventID, fmt.Errorf("the room's server ACL denies %s", origin)
	}
	pdu, err := untrustedPDU(ver, raw)
	if err != nil {
		return "", nil
	}
	if err := gomatrixserverlib.VerifyEventSignatures(ctx, pdu, f.keyRing, roomapi.UserIDForSender); err != nil {
		return pdu.EventID(), fmt.Errorf("bad signature: %w", err)
	}
	res, err := f.opts.Rooms.InputEvent(ctx, pdu)
	if errors.Is(err, roomapi.ErrNotInRoom) {
		return f.inviteRescinded(ctx, head.RoomID, raw), nil
	}
	var missing *roomapi.MissingEventsError
	if errors.As(err, &missing) && len(missing.Auth) > 0 && len(missing.Prev) == 0 {
		// Auth events this server lacks: the origin's auth chain of the
		// event, each checked against its own auth events (a rejected one
		// then rejects the event).
		if ferr := f.fetchAuthChain(ctx, origin, ver, pdu); ferr == nil {
			res, err = f.opts.Rooms.InputEvent(ctx, pdu)
		} else {
			f.opts.Log.WithError(ferr).WithField("event_id", pdu.EventID()).Info("auth chain not to be had")
		}
	}
	if errors.As(err, &missing) && len(missing.Prev) > 0 {
		usable, ferr := f.fetchMissing(ctx, origin, ver, pdu)
		if errors.Is(ferr, errGapState) {
			// The state at the gap was asked for and is not to be had:
			// the event cannot be placed (it is not accepted on the
			// origin's word for the state at a later point either). It is
			// dropped without an error in the /send answer, as Synapse
			// does: the origin has nothing to retry.
			f.opts.Log.WithError(ferr).WithField("event_id", pdu.EventID()).Info("event after a gap dropped")
			return pdu.EventID(), nil
		}
		if ferr == nil {
			res, err = f.opts.Rooms.InputEvent(ctx, pdu)
		}
		if ferr == nil && usable == 0 && errors.As(err, &missing) {
			// The origin answered but gave none of the events before the
			// one it pushed (or only events invalid in the room's
			// version): it cannot vouch for that event's history, so the
			// event is refused rather than given state taken on trust.
			return pdu.EventID(), fmt.Errorf("prev events of %s not to be had from %s", pdu.EventID(), origin)
		}
		if ferr != nil || errors.As(err, &missing) {
			// The gap is too wide: take the state at the event from the
			// origin instead of from its prev events (spec: "Checks
			// performed on receipt of a PDU", /state_ids).
			res, err = f.inputWithRemoteState(ctx, origin, ver, pdu)
		}
	} else if errors.As(err, &missing) {
		// Auth events the origin's auth chain did not give: the state at
		// the event, fetched event by event, brings them.
		res, err = f.inputWithRemoteState(ctx, origin, ver, pdu)
	}
	if err != nil {
		return pdu.EventID(), err
	}
	if res == roomapi.InputRejected {
		return pdu.EventID(), errors.New("rejected by the auth rules")
	}
	return pdu.EventID(), nil
}

// maxAuthChain bounds the auth chain taken from another server for one
// event.
const maxAuthChain = 2000

// fetchAuthChain asks origin for pdu's auth chain (spec: GET
// /_matrix/federation/v1/event_auth) and has the roomserver check and
// store it (signatures checked here; each event against its auth events
// there, rejected ones kept as rejected).
func (f *FederationAPI) fetchAuthChain(
	ctx context.Context,
	origin spec.ServerName,
	ver gomatrixserverlib.IRoomVersion,
	pdu gomatrixserverlib.PDU,
) error {
	roomID := pdu.RoomID().String()
	res, err := f.Client.GetEventAuth(ctx, f.name, origin, ver.Version(), roomID, pdu.EventID())
	if err != nil {
		return fmt.Errorf("event_auth from %s: %w", origin, err)
	}
	if len(res.AuthEvents) > maxAuthChain {
		return fmt.Errorf("event_auth from %s: %d events, more than %d", origin, len(res.AuthEvents), maxAuthChain)
	}
	var chain []gomatrixserverlib.PDU
	for _, raw := range res.AuthEvents {
		p, err := untrustedPDU(ver, raw)
		if err != nil || p.RoomID().String() != roomID {
			continue
		}
		if gomatrixserverlib.VerifyEventSignatures(ctx, p, f.keyRing, roomapi.UserIDForSender) != nil {
			continue
		}
		chain = append(chain, p)
	}
	_, err = f.opts.Rooms.StoreHistory(ctx, roomID, chain)
	return err
}

// fetchMissing asks origin for the events between what this server has
// and pdu (spec: POST /_matrix/federation/v1/get_missing_events) and inputs
// them oldest first. It returns how many of the events given were usable
// (valid in the room's version, signatures checked).
func (f *FederationAPI) fetchMissing(
	ctx context.Context,
	origin spec.ServerName,
	ver gomatrixserverlib.IRoomVersion,
	pdu gomatrixserverlib.PDU,
) (int, error) {
	latest, err := f.opts.Rooms.LatestEventIDs(ctx, pdu.RoomID().String())
	if err != nil {
		return 0, err
	}
	resp, err := f.Client.LookupMissingEvents(ctx, f.name, origin, pdu.RoomID().String(),
		fclientMissingEvents(latest, pdu.EventID()), ver.Version())
	if err != nil {
		return 0, err
	}
	evs := untrustedPDUs(ver, resp.Events)
	slices.SortStableFunc(evs, func(a, b gomatrixserverlib.PDU) int { return int(a.Depth() - b.Depth()) })
	usable := 0
	for _, e := range evs {
		if err := gomatrixserverlib.VerifyEventSignatures(ctx, e, f.keyRing, roomapi.UserIDForSender); err != nil {
			continue
		}
		usable++
		_, err := f.opts.Rooms.InputEvent(ctx, e)
		var missing *roomapi.MissingEventsError
		if !errors.As(err, &missing) || len(missing.Prev) == 0 {
			continue
		}
		// Still a gap before the oldest of them: older history is needed.
		if len(e.PrevEventIDs()) != 1 {
			return usable, err // the state at the event itself (state_ids path)
		}
		if _, err := f.inputAfterPrev(ctx, origin, ver, e); err != nil {
			return usable, fmt.Errorf("%w: %w", errGapState, err)
		}
	}
	return usable, nil
}

// errGapState: the state at the edge of a gap in a room's DAG was not to
// be had from the origin.
var errGapState = errors.New("the state at a gap is not to be had")

// inputAfterPrev inputs e, whose one prev event this server lacks (the far
// side of a gap get_missing_events did not close), with the state after
// that prev event as origin gives it: /state_ids of the prev event (the
// state before it) with the prev event itself on top when it is a state
// event, as Synapse does (spec: "Checks performed on receipt of a PDU":
// the state before an event is computed from the state after its prev
// events). The events this server lacks, the prev event among them, are
// fetched with /event and stored as outliers.
func (f *FederationAPI) inputAfterPrev(
	ctx context.Context,
	origin spec.ServerName,
	ver gomatrixserverlib.IRoomVersion,
	e gomatrixserverlib.PDU,
) (roomapi.InputResult, error) {
	roomID, prevID := e.RoomID().String(), e.PrevEventIDs()[0]
	ids, err := f.Client.LookupStateIDs(ctx, f.name, origin, roomID, prevID)
	if err != nil {
		return 0, fmt.Errorf("state_ids from %s: %w", origin, remoteError(origin, err))
	}
	want := slices.Concat(ids.AuthEventIDs, ids.StateEventIDs, e.AuthEventIDs(), []string{prevID})
	evs, err := f.fetchStored(ctx, origin, ver, roomID, want)
	if err != nil {
		return 0, err
	}
	return f.opts.Rooms.InputEventWithState(ctx, e, stateAfter(ids.StateEventIDs, evs[prevID], evs))
}

// stateAfter is the state after prev given the state before it (event
// IDs; evs holds the events by ID): prev replaces the event of its type
// and state key when it is a state event.
func stateAfter(before []string, prev gomatrixserverlib.PDU, evs map[string]gomatrixserverlib.PDU) []string {
	if prev == nil || prev.StateKey() == nil {
		return before
	}
	out := make([]string, 0, len(before)+1)
	for _, id := range before {
		if p := evs[id]; p != nil && p.Type() == prev.Type() && p.StateKeyEquals(*prev.StateKey()) {
			continue
		}
		out = append(out, id)
	}
	return append(out, prev.EventID())
}

// fetchStored makes sure the events with these IDs are stored, fetching
// those this server lacks from origin (signatures checked; at most
// maxStateFetch) and storing them as outliers, each checked against its
// auth events. It returns the events by ID: the stored ones and those
// fetched that passed.
func (f *FederationAPI) fetchStored(
	ctx context.Context,
	origin spec.ServerName,
	ver gomatrixserverlib.IRoomVersion,
	roomID string,
	want []string,
) (map[string]gomatrixserverlib.PDU, error) {
	have, err := f.opts.Rooms.RoomEvents(ctx, roomID, want)
	if err != nil {
		return nil, err
	}
	out := make(map[string]gomatrixserverlib.PDU, len(want))
	for _, p := range have {
		out[p.EventID()] = p
	}
	var fetched []gomatrixserverlib.PDU
	asked := map[string]bool{}
	for _, id := range want {
		if out[id] != nil || asked[id] {
			continue
		}
		asked[id] = true
		if len(fetched) >= maxStateFetch {
			return nil, fmt.Errorf("more than %d state events missing", maxStateFetch)
		}
		p, err := f.fetchEvent(ctx, origin, ver, roomID, id)
		if err != nil {
			return nil, err
		}
		fetched = append(fetched, p)
	}
	// Each checked against its auth events (among them or stored): one
	// that fails is kept as rejected, one whose auth events are not to be
	// had is not kept (and an event that needs it then fails).
	stored, err := f.opts.Rooms.StoreHistory(ctx, roomID, fetched)
	if err != nil {
		return nil, err
	}
	for _, p := range stored {
		out[p.EventID()] = p
	}
	return out, nil
}

// maxStateFetch bounds the state events fetched one by one for a gap.
const maxStateFetch = 500

// inputWithRemoteState inputs pdu with the state before it as origin gives
// it: the state and auth chain IDs from /state_ids, the events this server
// lacks fetched with /event (signatures checked) and stored as outliers.
func (f *FederationAPI) inputWithRemoteState(
	ctx context.Context,
	origin spec.ServerName,
	ver gomatrixserverlib.IRoomVersion,
	pdu gomatrixserverlib.PDU,
) (roomapi.InputResult, error) {
	roomID := pdu.RoomID().String()
	ids, err := f.Client.LookupStateIDs(ctx, f.name, origin, roomID, pdu.EventID())
	if err != nil {
		return 0, fmt.Errorf("state_ids from %s: %w", origin, err)
	}
	want := slices.Concat(ids.AuthEventIDs, ids.StateEventIDs, pdu.AuthEventIDs())
	if _, err := f.fetchStored(ctx, origin, ver, roomID, want); err != nil {
		return 0, err
	}
	return f.opts.Rooms.InputEventWithState(ctx, pdu, ids.StateEventIDs)
}

// fclientMissingEvents asks for the events before latest back to what this
// server has.
func fclientMissingEvents(have []string, latest string) fclient.MissingEvents {
	return fclient.MissingEvents{Limit: 20, EarliestEvents: have, LatestEvents: []string{latest}}
}

// jsonList gives events as their JSON.
func jsonList(pdus []gomatrixserverlib.PDU) []json.RawMessage {
	out := make([]json.RawMessage, len(pdus))
	for i, p := range pdus {
		out[i] = p.JSON()
	}
	return out
}

// inviteRescinded handles an event of a room this server is not in that
// ends a local user's pending invite (spec: an invite is rescinded by a
// leave or ban of the invitee; its server hears of it as the invitee's
// server): the user's sync shows it and the invite is forgotten. It
// returns the event's ID, or "" for any other event.
func (f *FederationAPI) inviteRescinded(ctx context.Context, roomID string, raw json.RawMessage) string {
	var head struct {
		Type     string  `json:"type"`
		StateKey *string `json:"state_key"`
	}
	if json.Unmarshal(raw, &head) != nil || head.Type != spec.MRoomMember || head.StateKey == nil {
		return ""
	}
	unlock := f.outside.lock(roomID, *head.StateKey)
	defer unlock()
	inv, err := f.store.InviteOf(ctx, roomID, *head.StateKey)
	if err != nil {
		return ""
	}
	ver, err := gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(inv.RoomVersion))
	if err != nil {
		return ""
	}
	pdu, err := untrustedPDU(ver, raw)
	if err != nil {
		return ""
	}
	if m, err := pdu.Membership(); err != nil || (m != spec.Leave && m != spec.Ban) {
		return pdu.EventID()
	}
	// Only an event that comes after the invite ends it: its auth events
	// name the invitee's membership then, the invite. (An older leave,
	// such as an unban sent before the invite, may arrive after it.)
	if !slices.Contains(pdu.AuthEventIDs(), inv.EventID) {
		return pdu.EventID()
	}
	// Only the inviter may take an invite back (the invitee's server cannot
	// check the room's power levels, having none of its state; Synapse
	// applies the same rule).
	if string(pdu.SenderID()) != *head.StateKey && inv.Inviter != "" && string(pdu.SenderID()) != inv.Inviter {
		return pdu.EventID()
	}
	if gomatrixserverlib.VerifyEventSignatures(ctx, pdu, f.keyRing, roomapi.UserIDForSender) != nil {
		return pdu.EventID()
	}
	log := f.opts.Log.WithField("room_id", roomID).WithField("event_id", pdu.EventID())
	if err := f.opts.Rooms.RejectInvite(ctx, pdu); err != nil {
		log.WithError(err).Warn("delivering a rescinded invite")
		return pdu.EventID()
	}
	if err := f.store.ForgetInvite(ctx, roomID, *head.StateKey); err != nil {
		log.WithError(err).Warn("forgetting a rescinded invite")
	}
	return pdu.EventID()
}

// v1Answer serves a v1 send_join or send_leave with its v2 handler: a
// success is answered as [200, body] (spec: "PUT
// /_matrix/federation/v1/send_join", deprecated), errors as they are.
func v1Answer(h fedHandler) fedHandler {
	return func(w http.ResponseWriter, r *http.Request, origin spec.ServerName, body []byte) error {
		rec := &v1Recorder{header: http.Header{}}
		if err := h(rec, r, origin, body); err != nil {
			return err
		}
		if rec.status != 0 && rec.status != http.StatusOK {
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
			return nil
		}
		httputil.WriteJSON(w, http.StatusOK, []any{200, json.RawMessage(rec.body.Bytes())})
		return nil
	}
}

// v1Recorder keeps a v2 handler's answer for v1Answer.
type v1Recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *v1Recorder) Header() http.Header         { return r.header }
func (r *v1Recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *v1Recorder) WriteHeader(status int)      { r.status = status }

// maxPDUBytes is the largest PDU, in canonical JSON (spec: "Size limits").
const maxPDUBytes = 65536

// errPDUTooLarge refuses a PDU over maxPDUBytes.
var errPDUTooLarge = errors.New("PDU larger than 64 KiB")

// untrustedPDU reads a PDU from another server: one over 64 KiB in
// canonical JSON is refused as received (spec: "Size limits"), before a
// failed content hash could shrink it to its redacted form; otherwise as
// gomatrixserverlib reads it (the redacted form when the hash fails).
func untrustedPDU(ver gomatrixserverlib.IRoomVersion, raw []byte) (gomatrixserverlib.PDU, error) {
	// Canonical JSON is never longer than the JSON it is made from (it drops
	// white space and unneeded escapes): only a long one needs measuring.
	if len(raw) > maxPDUBytes {
		canonical, err := gomatrixserverlib.CanonicalJSON(raw)
		if err != nil {
			return nil, err
		}
		if len(canonical) > maxPDUBytes {
			return nil, errPDUTooLarge
		}
	}
	p, err := ver.NewEventFromUntrustedJSON(raw)
	// An event over a limit older room versions did not enforce (a state
	// key over 255 bytes but not codepoints, in version 10) is kept, as
	// gomatrixserverlib marks it persistable: such rooms hold them.
	var verr gomatrixserverlib.EventValidationError
	if errors.As(err, &verr) && verr.Persistable && p != nil {
		return p, nil
	}
	return p, err
}

// untrustedPDUs reads a list of PDUs with untrustedPDU, leaving out those
// that cannot be read.
func untrustedPDUs(ver gomatrixserverlib.IRoomVersion, raws gomatrixserverlib.EventJSONs) []gomatrixserverlib.PDU {
	out := make([]gomatrixserverlib.PDU, 0, len(raws))
	for _, raw := range raws {
		if p, err := untrustedPDU(ver, raw); err == nil {
			out = append(out, p)
		}
	}
	return out
}
