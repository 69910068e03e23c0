// Package userapi is the user component: accounts, passwords, devices,
// access and refresh tokens, profiles and account data. Other components use
// it through the interfaces in userapi/api.
package userapi

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/consumers"
	"github.com/myelin-im/myelin/userapi/internal"
	"github.com/myelin-im/myelin/userapi/pusher"
	"github.com/myelin-im/myelin/userapi/sms"
	"github.com/myelin-im/myelin/userapi/storage"
)

// Option changes how New builds the user API.
type Option func(*internal.Options)

// WithSMS sends phone verification codes through sender, in messages made
// from template ("{code}" is the code; "" the default text). Without it no
// code can be sent.
func WithSMS(sender sms.Sender, template string) Option {
	return func(o *internal.Options) {
		o.Msisdn.Sender = sender
		o.Msisdn.Template = template
	}
}

// WithUserDirectory applies the user directory's configuration; without it
// every local user is searchable (search_all_users' default).
func WithUserDirectory(cfg config.UserDirectory) Option {
	return func(o *internal.Options) { o.DirectoryRestricted = !cfg.SearchAllUsers }
}

// New migrates the user API's tables and returns the component.
func New(
	ctx context.Context, serverName string, cfg config.UserAPI, db *sqlutil.DB, c cache.Cache, b bus.Bus,
	log logrus.FieldLogger, reg prometheus.Registerer, options ...Option,
) (api.UserAPI, error) {
	store, err := storage.New(ctx, db)
	if err != nil {
		return nil, err
	}
	opts := internal.Options{
		ServerName:           serverName,
		BcryptCost:           cfg.BcryptCost,
		AccessTokenLifetime:  time.Duration(cfg.AccessTokenLifetime),
		RefreshTokenLifetime: time.Duration(cfg.RefreshTokenLifetime),
		Msisdn: internal.MsisdnOptions{
			CodeLifetime:   time.Duration(cfg.Msisdn.CodeLifetime),
			MaxAttempts:    cfg.Msisdn.MaxAttempts,
			SendWindow:     time.Duration(cfg.Msisdn.SendWindow),
			SendsPerNumber: cfg.Msisdn.SendsPerNumber,
			SendsPerIP:     cfg.Msisdn.SendsPerIP,
		},
	}
	for _, o := range options {
		o(&opts)
	}
	u, err := internal.New(opts, store, c, b, log, reg)
	if err != nil {
		return nil, err
	}
	return u, nil
}

// StartPushers starts the pusher worker: it consumes the sync component's
// notifications and sends them to the notified users' push gateways.
// Close the worker to stop it.
func StartPushers(
	ctx context.Context, serverName string, db *sqlutil.DB, b bus.Bus, log logrus.FieldLogger, reg prometheus.Registerer,
) (*pusher.Worker, error) {
	store, err := storage.New(ctx, db)
	if err != nil {
		return nil, err
	}
	w, err := pusher.New(pusher.Options{ServerName: serverName, Log: log, Registerer: reg}, store)
	if err != nil {
		return nil, err
	}
	if err := w.Start(ctx, b); err != nil {
		_ = w.Close()
		return nil, err
	}
	return w, nil
}

// StartDirectory starts the user directory's consumer of the roomserver's
// output log (memberships, public rooms, other servers' users). Close the
// subscription to stop it.
func StartDirectory(
	ctx context.Context, serverName string, db *sqlutil.DB, b bus.Bus, log logrus.FieldLogger,
) (bus.Subscription, error) {
	store, err := storage.New(ctx, db)
	if err != nil {
		return nil, err
	}
	return consumers.NewDirectory(store, serverName, log).Start(ctx, b)
}
