package consumers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// StartEphemeral subscribes the sync component to typing changes (kept in
// memory), announced receipts (which wake the room) and receipts from
// other servers (stored, then announced). It returns the subscriptions to
// close at shutdown.
func StartEphemeral(
	ctx context.Context, b bus.Bus, store *storage.Storage, n *internal.Notifier, eph *internal.Ephemeral, log logrus.FieldLogger,
) ([]bus.Subscription, error) {
	var subs []bus.Subscription
	closeAll := func() {
		for _, s := range subs {
			_ = s.Close()
		}
	}
	starts := []func() (bus.Subscription, error){
		func() (bus.Subscription, error) {
			return onNotice(ctx, b, api.TypingTopic, "typing change", log, func(ch api.TypingChange) {
				eph.Typing.Set(ch.RoomID, ch.UserID, ch.Typing, time.Duration(ch.TimeoutMS)*time.Millisecond)
			})
		},
		func() (bus.Subscription, error) {
			return onNotice(ctx, b, api.ReceiptTopic, "receipt", log, func(r api.Receipt) { eph.OnReceipt(n, r) })
		},
		func() (bus.Subscription, error) {
			return b.Subscribe(ctx, api.ReceiptInputTopic, Group, storeReceipt(store, eph, log))
		},
	}
	for _, start := range starts {
		s, err := start()
		if err != nil {
			closeAll()
			return nil, err
		}
		subs = append(subs, s)
	}
	return subs, nil
}

// storeReceipt stores a receipt another server sent, announcing it in the
// same transaction; an older or repeated one changes nothing.
func storeReceipt(store *storage.Storage, eph *internal.Ephemeral, log logrus.FieldLogger) bus.Handler {
	return func(ctx context.Context, msg *bus.Message) error {
		var r api.Receipt
		if err := json.Unmarshal(msg.Body, &r); err != nil {
			log.WithError(err).WithField("msg_id", msg.ID).Error("unreadable receipt")
			return nil
		}
		if _, err := store.PutReceipt(ctx, &r, eph.AnnounceReceipt); err != nil {
			return fmt.Errorf("storing a receipt of %s: %w", r.UserID, err)
		}
		return nil
	}
}
