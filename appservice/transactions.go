package appservice

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/appservice/api"
	"github.com/myelin-im/myelin/appservice/storage"
	"github.com/myelin-im/myelin/internal/bus"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// TransactionTimeout bounds one push of a transaction to a service.
const TransactionTimeout = 60 * time.Second

// Rooms is what the transaction senders read of the roomserver: who is in
// a room and its aliases, to decide which services an event interests.
type Rooms interface {
	Members(ctx context.Context, roomID, membership string) ([]string, error)
	AliasesOf(ctx context.Context, roomID string) ([]string, error)
}

// Senders push to each service with a URL the room events it is
// interested in (spec: application service API, "Pushing events"), each
// through a consumer group of its own on the roomserver's output log: the
// bus keeps each service's position across restarts, delivers each room's
// events in order and retries a failed push with backoff before any later
// event of the same rooms, and a slow or dead service holds back only its
// own group, never the homeserver or another service.
type Senders struct {
	subs []bus.Subscription
}

// SendersOptions configure StartSenders.
type SendersOptions struct {
	Bus    bus.Bus
	Reg    *api.Registry
	Rooms  Rooms
	Store  *storage.Store
	Client *http.Client // nil: one with TransactionTimeout
	Log    logrus.FieldLogger
	Now    func() time.Time // nil: time.Now
}

// StartSenders subscribes a sender for every registered service with a URL.
func StartSenders(ctx context.Context, o SendersOptions) (*Senders, error) {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: TransactionTimeout}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Senders{}
	for _, as := range o.Reg.All() {
		if as.URL == nil {
			continue
		}
		since, err := o.Store.SenderSince(ctx, as.ID, o.Now().UnixMilli())
		if err != nil {
			_ = s.Close()
			return nil, err
		}
		snd := &sender{as: as, reg: o.Reg, rooms: o.Rooms, client: o.Client, since: time.UnixMilli(since),
			log: o.Log.WithField("appservice_id", as.ID)}
		sub, err := o.Bus.SubscribeBatch(ctx, roomapi.OutputTopic, GroupName(as.ID), snd.handle)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("appservice %s: subscribing its sender: %w", as.ID, err)
		}
		s.subs = append(s.subs, sub)
		if wantsEphemeral(as) {
			if sub, err = snd.startReceipts(ctx, o.Bus); err != nil {
				_ = s.Close()
				return nil, err
			}
			s.subs = append(s.subs, sub)
			if sub, err = snd.startTyping(ctx, o.Bus); err != nil {
				_ = s.Close()
				return nil, err
			}
			s.subs = append(s.subs, sub)
		}
	}
	return s, nil
}

// Close stops every sender, waiting for pushes in flight.
func (s *Senders) Close() error {
	var errs []error
	for _, sub := range s.subs {
		errs = append(errs, sub.Close())
	}
	s.subs = nil
	return errors.Join(errs...)
}

// GroupName is the bus consumer group of a service's sender: its id
// hashed, since ids may hold any character and groups may not.
func GroupName(appServiceID string) string {
	sum := sha256.Sum256([]byte(appServiceID))
	return "appservice_" + hex.EncodeToString(sum[:8])
}

type sender struct {
	as     *api.Registration
	reg    *api.Registry
	rooms  Rooms
	client *http.Client
	since  time.Time
	log    logrus.FieldLogger
	typing typingRooms
}

// handle pushes the events of msgs the service is interested in as one
// transaction. The transaction ID is derived from the messages, so that a
// retry of the same messages is the same transaction for the service.
func (s *sender) handle(ctx context.Context, msgs []*bus.Message) error {
	var events []roomapi.ClientEvent
	interest := roomInterest{}
	for _, m := range msgs {
		if m.Published.Before(s.since) {
			continue
		}
		var out roomapi.OutputEvent
		if err := json.Unmarshal(m.Body, &out); err != nil || out.Type != "new_room_event" {
			continue
		}
		ev, err := roomapi.Event{ID: out.EventID, RoomID: out.RoomID, PDU: out.Event}.Client()
		if err != nil {
			s.log.WithError(err).WithField("event_id", out.EventID).Warn("appservice: event not readable; skipped")
			continue
		}
		ok, err := s.interested(ctx, &ev, interest)
		if err != nil {
			return err
		}
		if ok {
			events = append(events, ev)
		}
	}
	if len(events) == 0 {
		return nil
	}
	return s.pushBody(ctx, transactionID(msgs), map[string]any{"events": events})
}

// roomInterest caches, within one batch, whether a room interests the
// service through its members or aliases.
type roomInterest map[string]bool

// interested reports whether ev is for the service (spec: "Registration":
// a service is interested in events of the users, rooms and aliases of its
// namespaces): sent by or about one of its users, in one of its rooms, in a
// room with one of its aliases or one of its users as a member.
func (s *sender) interested(ctx context.Context, ev *roomapi.ClientEvent, cache roomInterest) (bool, error) {
	// Only local users count (spec: "Registration", users namespaces).
	if s.ownsLocal(ev.Sender) {
		return true, nil
	}
	if ev.Type == "m.room.member" && ev.StateKey != nil && s.ownsLocal(*ev.StateKey) {
		return true, nil
	}
	return s.roomInterested(ctx, ev.RoomID, cache)
}

func (s *sender) roomInterests(ctx context.Context, roomID string) (bool, error) {
	aliases, err := s.rooms.AliasesOf(ctx, roomID)
	if err != nil && !errors.Is(err, roomapi.ErrRoomNotFound) {
		return false, fmt.Errorf("appservice: aliases of %s: %w", roomID, err)
	}
	for _, a := range aliases {
		if s.as.OwnsAlias(a) {
			return true, nil
		}
	}
	for _, membership := range []string{"join", "invite"} {
		members, err := s.rooms.Members(ctx, roomID, membership)
		if err != nil && !errors.Is(err, roomapi.ErrRoomNotFound) {
			return false, fmt.Errorf("appservice: members of %s: %w", roomID, err)
		}
		for _, m := range members {
			if s.ownsLocal(m) {
				return true, nil
			}
		}
	}
	return false, nil
}

// ownsLocal reports whether userID is a user of this server the service
// owns.
func (s *sender) ownsLocal(userID string) bool {
	return s.reg.Localpart(userID) != "" && s.as.OwnsUser(userID, s.reg.ServerName())
}

func matchAny(list []api.Namespace, id string) bool {
	for i := range list {
		if list[i].Matches(id) {
			return true
		}
	}
	return false
}

// transactionID names the transaction of a batch of messages.
func transactionID(msgs []*bus.Message) string {
	h := sha256.New()
	for _, m := range msgs {
		h.Write([]byte(m.ID))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// pushBody sends PUT {url}/_matrix/app/v1/transactions/{txnId}; anything
// but 200 is an error, and the bus retries it.
func (s *sender) pushBody(ctx context.Context, txnID string, txn map[string]any) error {
	body, err := json.Marshal(txn)
	if err != nil {
		return err
	}
	target := strings.TrimRight(*s.as.URL, "/") + "/_matrix/app/v1/transactions/" + url.PathEscape(txnID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("appservice %s: %w", s.as.ID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.as.HSToken)
	resp, err := s.client.Do(req)
	if err != nil {
		s.log.WithError(unwrapURLError(err)).WithField("txn_id", txnID).Info("appservice: transaction not delivered; retrying")
		return fmt.Errorf("appservice %s: transaction %s: %w", s.as.ID, txnID, unwrapURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPingBody))
	if resp.StatusCode != http.StatusOK {
		s.log.WithField("status", resp.StatusCode).WithField("txn_id", txnID).Info("appservice: transaction refused; retrying")
		return fmt.Errorf("appservice %s: transaction %s: status %d", s.as.ID, txnID, resp.StatusCode)
	}
	return nil
}
