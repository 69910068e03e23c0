// Package routing serves the sync component's client endpoints: /sync,
// /messages, filters, and the history extensions.
package routing

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/search"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Routes serves the sync endpoints.
type Routes struct {
	store *storage.Storage
	// searchBackend answers /search (nil: nothing is found).
	searchBackend search.Backend
	searchIndexed func(ctx context.Context, pos int64) bool
	notifier      *internal.Notifier
	recent        *internal.Recent
	counts        *internal.CountsCache
	users         userapi.Sync
	// ignores caches who each user ignores (ignore.go).
	ignores *internal.Ignores
	// rooms, when the roomserver runs in this process, lets reads wait for
	// the stream to catch up with memberships the roomserver already has.
	rooms roomapi.Sync
	log   logrus.FieldLogger
	// wsTimeout overrides DefaultWSWriteTimeout when set (nanoseconds).
	wsTimeout atomic.Int64
	// backfiller, when federation runs in this process, fetches history
	// older than this server has.
	backfiller fedapi.Backfiller
	backfill   backfillState
	// eph holds typing, receipts and the unread counts (ephemeral.go).
	eph *internal.Ephemeral
	// presence, once SetupPresence ran, is what /sync's presence reads.
	presence *internal.Presence
}

// Setup registers the sync endpoints on r. rooms and backfiller may be nil
// (no roomserver, no federation in this process).
func Setup(
	r *mux.Router, store *storage.Storage, n *internal.Notifier, recent *internal.Recent, eph *internal.Ephemeral,
	ignores *internal.Ignores, users userapi.Sync, rooms roomapi.Sync, backfiller fedapi.Backfiller, log logrus.FieldLogger,
) *Routes {
	rt := &Routes{store: store, notifier: n, recent: recent, counts: eph.Counts, eph: eph, ignores: ignores, users: users, rooms: rooms,
		backfiller: backfiller, log: log}
	rt.backfill.rooms = map[string]*sync.Mutex{}
	rt.backfill.dryFrom = map[string]time.Time{}
	const v3 = "/_matrix/client/v3"
	r.Handle(v3+"/sync", rt.authed(rt.sync)).Methods(http.MethodGet)
	r.Handle(v3+"/keys/changes", rt.authed(rt.keyChanges)).Methods(http.MethodGet)
	r.Handle(v3+"/notifications", rt.authed(rt.notifications)).Methods(http.MethodGet)
	r.Handle(v3+"/user/{userId}/filter", rt.authed(rt.postFilter)).Methods(http.MethodPost)
	r.Handle(v3+"/user/{userId}/filter/{filterId}", rt.authed(rt.getFilter)).Methods(http.MethodGet)
	r.Handle(v3+"/rooms/{roomId}/messages", rt.authed(rt.messages)).Methods(http.MethodGet)
	r.Handle(v3+"/rooms/{roomId}/members", rt.authed(rt.members)).Methods(http.MethodGet)
	r.Handle(v3+"/search", rt.authed(rt.search)).Methods(http.MethodPost)
	r.Handle(wsPath, rt.authed(rt.syncWebSocket)).Methods(http.MethodGet)
	rt.setupHistory(r)
	rt.setupRelations(r)
	rt.setupEphemeral(r)
	return rt
}

type authedHandler func(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error

func (rt *Routes) authed(h authedHandler) httputil.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		dev, err := userapi.Authenticate(r.Context(), rt.users, httputil.AccessToken(r))
		if err != nil {
			return err
		}
		return h(w, r, dev)
	}
}
