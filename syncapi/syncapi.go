// Package syncapi is the sync component: it consumes the roomserver's
// output log into a stream of events per room and serves /sync (long-poll),
// /messages and filters, waking exactly the users an event concerns.
package syncapi

import (
	"context"
	"fmt"
	"math"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/sqlutil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/syncapi/consumers"
	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/routing"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// SyncAPI is the running sync component.
type SyncAPI struct {
	Store    *storage.Storage
	Notifier *internal.Notifier
	Routes   *routing.Routes
	sub      bus.Subscription
	adSub    bus.Subscription
	dlSub    bus.Subscription
	tdSub    bus.Subscription
	ephSubs  []bus.Subscription
	presenceParts
	searchParts
}

// New migrates the sync tables, loads the notifier's view of rooms,
// subscribes to the output log and registers the routes on router. rooms
// (the roomserver) and backfiller (federation, for history older than this
// server has) may be nil when those components do not run in this process.
func New(
	ctx context.Context, server string, db *sqlutil.DB, b bus.Bus, users userapi.Sync, rooms roomapi.Sync,
	backfiller fedapi.Backfiller, router *mux.Router, log logrus.FieldLogger, opts ...Option,
) (*SyncAPI, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	store, err := storage.New(ctx, db)
	if err != nil {
		return nil, err
	}
	pos, err := store.MaxPos(ctx)
	if err != nil {
		return nil, fmt.Errorf("syncapi: reading stream position: %w", err)
	}
	rows, err := store.AllMemberships(ctx)
	if err != nil {
		return nil, fmt.Errorf("syncapi: loading room members: %w", err)
	}
	members := make([]internal.MemberRow, len(rows))
	for i, r := range rows {
		members[i] = internal.MemberRow{RoomID: r.RoomID, UserID: r.UserID, Membership: r.Membership, Pos: r.Pos}
	}
	n := internal.NewNotifier(pos, members)
	recent := internal.NewRecent(pos)
	counts := internal.NewCountsCache()
	s := &SyncAPI{Store: store, Notifier: n}
	ignores := internal.NewIgnores(users, server)
	pushes := internal.NewPushes(server, users, store, b, counts, ignores)
	if s.sub, err = consumers.NewRoomserverConsumer(store, n, recent, pushes, o.search != nil, log).Start(ctx, b); err != nil {
		return nil, fmt.Errorf("syncapi: subscribing to the output log: %w", err)
	}
	if s.adSub, err = consumers.StartAccountData(ctx, b, n, ignores, log); err != nil {
		return nil, fmt.Errorf("syncapi: subscribing to account data: %w", err)
	}
	// No change lies after MaxInt64: this reads only the latest position.
	_, dlPos, err := users.DeviceListChanges(ctx, math.MaxInt64, -1)
	if err != nil {
		return nil, fmt.Errorf("syncapi: reading the device-list position: %w", err)
	}
	n.SetDeviceListPos(dlPos)
	if s.dlSub, err = consumers.StartDeviceLists(ctx, b, n, log); err != nil {
		return nil, fmt.Errorf("syncapi: subscribing to device lists: %w", err)
	}
	if s.tdSub, err = consumers.StartToDevice(ctx, b, n, log); err != nil {
		return nil, fmt.Errorf("syncapi: subscribing to to-device notices: %w", err)
	}
	eph, err := newEphemeral(ctx, store, n, counts, b)
	if err != nil {
		return nil, err
	}
	if s.ephSubs, err = consumers.StartEphemeral(ctx, b, store, n, eph, log); err != nil {
		return nil, fmt.Errorf("syncapi: subscribing to typing and receipts: %w", err)
	}
	s.Routes = routing.Setup(router, store, n, recent, eph, ignores, users, rooms, backfiller, log)
	if err := s.startPresence(ctx, b, router, o, log); err != nil {
		return nil, fmt.Errorf("syncapi: starting presence: %w", err)
	}
	if err := s.startSearch(ctx, o, log); err != nil {
		return nil, err
	}
	return s, nil
}

// UnreadTotal counts a user's unread notifications across the rooms they
// are joined to (the push gateway's counts.unread).
func (s *SyncAPI) UnreadTotal(ctx context.Context, userID string) (int, error) {
	return s.Routes.UnreadTotal(ctx, userID)
}
