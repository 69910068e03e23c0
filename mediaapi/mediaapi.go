// Package mediaapi is the media component, the content repository: users
// upload files (avatars, pictures, voice messages) and download them by
// their mxc:// URI. Other components use it through mediaapi/api.
package mediaapi

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal"
	"github.com/myelin-im/myelin/mediaapi/routing"
	"github.com/myelin-im/myelin/mediaapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Options are what New needs.
type Options struct {
	ServerName string
	Config     config.MediaAPI
	// BasePath is the directory of the file store (config.MediaBasePath).
	BasePath string
	DB       *sqlutil.DB
	// Users authenticates the client requests.
	Users userapi.Sessions
	// Router gets the client endpoints.
	Router *mux.Router
	// Remote fetches other servers' media (the federation component);
	// nil, in a process without federation, leaves their media not found.
	Remote     api.RemoteFetcher
	Registerer prometheus.Registerer
	Log        logrus.FieldLogger
}

// MediaAPI is the running media component: the api.MediaAPI other
// components use, and Close.
type MediaAPI struct {
	*internal.Media
}

var _ api.MediaAPI = (*MediaAPI)(nil)

// New migrates the media tables, opens the file store, starts the sweep of
// expired media IDs and registers the client endpoints.
func New(ctx context.Context, opts Options) (*MediaAPI, error) {
	store, err := storage.New(ctx, opts.DB)
	if err != nil {
		return nil, err
	}
	frozen, err := opts.Config.LegacyMedia.FrozenAfterTime()
	if err != nil {
		return nil, fmt.Errorf("mediaapi: %w", err)
	}
	m, err := internal.New(internal.Options{
		ServerName:         opts.ServerName,
		BasePath:           opts.BasePath,
		MaxUploadBytes:     opts.Config.MaxUploadBytes,
		UserQuotaBytes:     opts.Config.UserQuotaBytes,
		UnusedUploadExpiry: time.Duration(opts.Config.UnusedUploadExpiry),
		MaxPendingUploads:  opts.Config.MaxPendingUploads,
		Remote:             opts.Remote,
	}, store, opts.Log, opts.Registerer)
	if err != nil {
		return nil, err
	}
	routing.Setup(opts.Router, m, opts.Users, routing.Options{
		LegacyEnabled: opts.Config.LegacyMedia.Enabled,
		FrozenAfter:   frozen,
	})
	return &MediaAPI{Media: m}, nil
}
