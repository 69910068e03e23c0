// Package admin is the operator surface: a Synapse-compatible subset of
// the admin API under /_synapse/admin/ (same paths, parameters and JSON
// shapes, so tools built for Synapse work unmodified), the spec's own
// /_matrix/client/v3/admin/* and /v1/admin/*, and Myelin's extensions
// (room export, the audit log; docs/api-extensions.md). It is part of the
// client API's listener but its own package, so the user surface and the
// operator surface are read and secured apart (docs/architecture.md). It
// owns only its audit log; everything else it reads and changes through
// the other components' api packages.
package admin

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/clientapi/admin/storage"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	mediaapi "github.com/myelin-im/myelin/mediaapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Deps are what the admin API reads and changes.
type Deps struct {
	ServerName string
	// Version is the server's version, as /server_version reports it.
	Version string
	Users   userapi.UserAPI
	Rooms   roomapi.Roomserver
	// ServerNotices configures the server-notices user (off when its
	// localpart is empty).
	ServerNotices config.ServerNotices
	// Media is the media component (nil when this process runs none: the
	// media routes are then not served).
	Media mediaapi.Admin
	// RoomExport and MediaExport are what room exports read (export.go);
	// a nil MediaExport lists every file as missing.
	RoomExport  roomapi.Export
	MediaExport mediaapi.Exporter
	// DB holds the audit log.
	DB  *sqlutil.DB
	Log logrus.FieldLogger
}

// Admin serves the admin API.
type Admin struct {
	d     Deps
	audit *storage.Store
	// noticesMu serialises server notices, so that two notices to a user
	// never make two rooms; noticesUserReady (under it) is set once the
	// server-notices user exists.
	noticesMu        sync.Mutex
	noticesUserReady bool
}

// Setup migrates the admin API's tables and registers its routes on r
// (full paths on the root router, as the client API does: subrouters
// answer 404 instead of 405 for a known path with the wrong method).
func Setup(ctx context.Context, r *mux.Router, d Deps) (*Admin, error) {
	st, err := storage.New(ctx, d.DB)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	a := &Admin{d: d, audit: st}
	p := prefixed{r, "/_synapse/admin"}
	p.Handle("/v1/server_version", handlerFunc(a.serverVersion)).Methods(http.MethodGet)
	a.setupAudit(p)
	a.setupUsers(r, p)
	a.setupRooms(p)
	a.setupMedia(p)
	a.setupReports(p)
	a.setupRegistrationTokens(p)
	a.setupNotices(p)
	a.setupExport(p)
	a.setupRetention(p)
	return a, nil
}

// prefixed registers routes under a path prefix on the root router.
type prefixed struct {
	r      *mux.Router
	prefix string
}

func (p prefixed) Handle(path string, h http.Handler) *mux.Route {
	return p.r.Handle(p.prefix+path, h)
}
