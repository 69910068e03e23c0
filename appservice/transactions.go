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
	JoinedRooms(ctx context.Context, userID string) ([]string, error)
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
	Bus   bus.Bus
	Reg   *api.Registry
	Rooms Rooms
	Store *storage.Store
	// ToDevice is the user API's to-device store (nil: no to-device
	// messages are pushed, as in a process without the user API).
	ToDevice ToDeviceStore
	Client   *http.Client // nil: one with TransactionTimeout
	Log      logrus.FieldLogger
	Now      func() time.Time // nil: time.Now
	// RetryMax caps the wait between two pushes of a transaction the
	// service did not take (0: DefaultRetryMax).
	RetryMax time.Duration
}

// StartSenders subscribes a sender for every registered service with a URL.
func StartSenders(ctx context.Context, o SendersOptions) (*Senders, error) {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: TransactionTimeout}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	s := &Senders{}
	for _, as := range o.Reg.All() {
		if as.URL == nil {
			continue
		}
		subs, err := startSender(ctx, o, as)
		s.subs = append(s.subs, subs...)
		if err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// startSender subscribes the consumer groups of one service: room events,
// and with ephemeral events asked for, receipts, typing, presence and
// to-device messages. It returns what it subscribed even on error.
func startSender(ctx context.Context, o SendersOptions, as *api.Registration) ([]bus.Subscription, error) {
	since, err := o.Store.SenderSince(ctx, as.ID, o.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	snd := &sender{as: as, reg: o.Reg, rooms: o.Rooms, toDevice: o.ToDevice, client: o.Client, since: time.UnixMilli(since),
		retryMax: o.RetryMax, log: o.Log.WithField("appservice_id", as.ID)}
	sub, err := o.Bus.SubscribeBatch(ctx, roomapi.OutputTopic, GroupName(as.ID), snd.handle)
	if err != nil {
		return nil, fmt.Errorf("appservice %s: subscribing its sender: %w", as.ID, err)
	}
	subs := []bus.Subscription{sub}
	if !wantsEphemeral(as) {
		return subs, nil
	}
	for _, start := range []func(context.Context, bus.Bus) (bus.Subscription, error){snd.startReceipts, snd.startTyping} {
		if sub, err = start(ctx, o.Bus); err != nil {
			return subs, err
		}
		subs = append(subs, sub)
	}
	presence, err := snd.startPresence(ctx, o.Bus)
	if err != nil {
		return subs, err
	}
	subs = append(subs, presence...)
	if o.ToDevice != nil {
		if sub, err = snd.startToDevice(ctx, o.Bus); err != nil {
			return subs, err
		}
		subs = append(subs, sub)
	}
	return subs, nil
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
	as       *api.Registration
	reg      *api.Registry
	rooms    Rooms
	toDevice ToDeviceStore
	client   *http.Client
	since    time.Time
	retryMax time.Duration
	log      logrus.FieldLogger
	typing   typingRooms
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

// Pushing a transaction the service does not take is retried (spec:
// "Pushing events": the homeserver SHOULD back off exponentially until the
// service is reachable again) from retryMin, doubling, up to the sender's
// retryMax. The cap is a few seconds, not minutes: a bridge back after an
// outage gets its transactions within seconds, where a long cap would
// leave it waiting, and a few requests a second at most are no burden.
const (
	retryMin        = 200 * time.Millisecond
	DefaultRetryMax = 5 * time.Second
	// maxHold bounds how long one push keeps retrying before it hands the
	// messages back to the bus, which redelivers them after its own
	// backoff; it is below RabbitMQ's default acknowledgement timeout
	// (30 minutes), past which the broker drops the consumer.
	maxHold = 15 * time.Minute
	// retryLogEvery spaces the log lines of a service that stays down.
	retryLogEvery = time.Minute
)

// pushBody pushes a transaction until the service takes it (or maxHold
// passes, or ctx ends), waiting between attempts as described above.
func (s *sender) pushBody(ctx context.Context, txnID string, txn map[string]any) error {
	body, err := json.Marshal(txn)
	if err != nil {
		return err
	}
	start := time.Now()
	var logged time.Time
	for attempt := 0; ; attempt++ {
		err := s.pushOnce(ctx, txnID, body)
		if err == nil {
			if attempt > 0 {
				s.log.WithField("txn_id", txnID).WithField("attempts", attempt+1).
					WithField("waited", time.Since(start).Round(time.Millisecond).String()).Info("appservice: transaction delivered")
			}
			return nil
		}
		if ctx.Err() != nil || time.Since(start) > maxHold {
			return err
		}
		if time.Since(logged) >= retryLogEvery {
			logged = time.Now()
			s.log.WithError(err).WithField("txn_id", txnID).WithField("attempt", attempt+1).
				Info("appservice: transaction not delivered; retrying")
		}
		if !sleep(ctx, retryDelay(attempt, s.retryMax)) {
			return ctx.Err()
		}
	}
}

// retryDelay is the wait after the attempt-th failed push (0-based):
// retryMin·2^attempt, capped at max.
func retryDelay(attempt int, max time.Duration) time.Duration {
	d := retryMin
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pushOnce sends PUT {url}/_matrix/app/v1/transactions/{txnId} once;
// anything but 200 is an error.
func (s *sender) pushOnce(ctx context.Context, txnID string, body []byte) error {
	target := strings.TrimRight(*s.as.URL, "/") + "/_matrix/app/v1/transactions/" + url.PathEscape(txnID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("appservice %s: %w", s.as.ID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.as.HSToken)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("appservice %s: transaction %s: %w", s.as.ID, txnID, unwrapURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPingBody))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("appservice %s: transaction %s: status %d", s.as.ID, txnID, resp.StatusCode)
	}
	return nil
}
