package federationapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/federationapi/queue"
	"github.com/myelin-im/myelin/internal/bus"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// outputGroup is the federation component's consumer group on the
// roomserver's output log.
const outputGroup = "federationapi"

// StartSending subscribes to the roomserver's output log and queues every
// event sent by this server's users for the other servers in its room.
func (f *FederationAPI) StartSending(ctx context.Context, b bus.Bus) error {
	q, err := queue.New(ctx, queue.Options{DB: f.opts.DB, Sender: txnSender{f}, Log: f.opts.Log, Registerer: f.opts.Registerer})
	if err != nil {
		return err
	}
	f.queues = q
	sub, err := b.Subscribe(ctx, roomapi.OutputTopic, outputGroup, f.onOutput)
	if err != nil {
		_ = q.Close()
		return err
	}
	f.outputSub = sub
	if f.deviceSub, err = b.Subscribe(ctx, userapi.DeviceListTopic, deviceListGroup, f.onDeviceList); err != nil {
		_ = sub.Close()
		_ = q.Close()
		return err
	}
	if f.toDeviceSub, err = b.Subscribe(ctx, userapi.ToDeviceRemoteTopic, deviceListGroup, f.onToDeviceRemote); err != nil {
		_ = f.deviceSub.Close()
		_ = sub.Close()
		_ = q.Close()
		return err
	}
	if err := f.startPresence(ctx, b); err != nil {
		_ = f.toDeviceSub.Close()
		_ = f.deviceSub.Close()
		_ = sub.Close()
		_ = q.Close()
		return err
	}
	return f.startEphemeral(ctx, b)
}

// Close stops sending.
func (f *FederationAPI) Close() error {
	for _, s := range f.ephSubs {
		_ = s.Close()
	}
	if f.outputSub != nil {
		_ = f.outputSub.Close()
	}
	if f.toDeviceSub != nil {
		_ = f.toDeviceSub.Close()
	}
	if f.presence.sub != nil {
		_ = f.presence.sub.Close()
	}
	if f.deviceSub != nil {
		_ = f.deviceSub.Close()
	}
	if f.queues != nil {
		return f.queues.Close()
	}
	return nil
}

// onOutput queues a local event for the servers in its room: those with a
// joined member before it (as the roomserver saw when it built the event)
// and, for a membership event, the member's own server (so a kicked or
// banned user's server hears of it).
func (f *FederationAPI) onOutput(ctx context.Context, msg *bus.Message) error {
	var out roomapi.OutputEvent
	if err := json.Unmarshal(msg.Body, &out); err != nil || out.Type != roomapi.OutputTypeNewRoomEvent {
		return nil
	}
	var head struct {
		Sender   string  `json:"sender"`
		Type     string  `json:"type"`
		StateKey *string `json:"state_key"`
		Content  struct {
			Membership string `json:"membership"`
		} `json:"content"`
	}
	if err := json.Unmarshal(out.Event, &head); err != nil {
		return nil
	}
	if head.Type == spec.MRoomMember {
		if err := f.deviceListsOnMembership(ctx, out.RoomID, head.Sender, head.StateKey, head.Content.Membership); err != nil {
			return err
		}
	}
	if out.Delivered {
		return nil
	}
	_, origin, _ := strings.Cut(head.Sender, ":")
	if origin != string(f.name) && !out.Relay {
		return nil // another server's event: its origin sends it
	}
	if f.opts.Rooms == nil {
		return nil
	}
	servers, err := out.Servers, error(nil)
	if servers == nil {
		// A relayed event: the servers in the room now.
		servers, err = f.opts.Rooms.JoinedServers(ctx, out.RoomID)
	}
	if errors.Is(err, roomapi.ErrRoomNotFound) {
		// A room this server is not in: a rejected invite, already
		// delivered through send_leave.
		return nil
	}
	if err != nil {
		return fmt.Errorf("federationapi: servers of %s: %w", out.RoomID, err)
	}
	if head.Type == spec.MRoomMember && head.StateKey != nil {
		if _, server, ok := strings.Cut(*head.StateKey, ":"); ok {
			servers = append(servers, server)
		}
	}
	var dests []string
	seen := map[string]bool{string(f.name): true, origin: true}
	for _, s := range servers {
		if !seen[s] {
			seen[s] = true
			dests = append(dests, s)
		}
	}
	if len(dests) == 0 {
		return nil
	}
	return f.queues.EnqueuePDU(ctx, dests, out.Event)
}

// deviceListsOnMembership keeps device lists shared as memberships change
// (spec: "Device Management"): a local user's join sends their devices to
// the room's servers; a leave may end the sharing of device lists.
func (f *FederationAPI) deviceListsOnMembership(ctx context.Context, roomID, sender string, stateKey *string, membership string) error {
	if stateKey == nil || membership == "" {
		return nil
	}
	switch {
	case membership == spec.Join && *stateKey == sender:
		return f.sendDeviceListsOnJoin(ctx, sender, roomID)
	case membership == spec.Leave || membership == spec.Ban:
		return f.forgetUntracked(ctx, roomID, *stateKey)
	}
	return nil
}

// txnSender sends queued transactions with the signing client.
type txnSender struct{ f *FederationAPI }

func (s txnSender) Send(ctx context.Context, txn queue.Transaction) error {
	t := gomatrixserverlib.Transaction{
		TransactionID:  gomatrixserverlib.TransactionID(txn.ID),
		Origin:         s.f.name,
		Destination:    spec.ServerName(txn.Destination),
		OriginServerTS: spec.AsTimestamp(time.Now()),
	}
	t.PDUs = append(t.PDUs, txn.PDUs...)
	for _, e := range txn.EDUs {
		var edu gomatrixserverlib.EDU
		if json.Unmarshal(e, &edu) == nil {
			t.EDUs = append(t.EDUs, edu)
		}
	}
	_, err := s.f.Client.SendTransaction(ctx, t)
	err = remoteError(t.Destination, err)
	var re *fedapi.RemoteError
	// Refused for good: a malformed or oversized transaction, a server ACL,
	// an endpoint the remote lacks. 401 (the remote could not check our key
	// yet), 408 and 429 are worth retrying.
	if errors.As(err, &re) {
		switch re.Status {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusRequestEntityTooLarge:
			return fmt.Errorf("%w: %w", queue.ErrRejected, err)
		}
	}
	return err
}
