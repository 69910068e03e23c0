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
	"github.com/myelin-im/myelin/userapi/internal"
	"github.com/myelin-im/myelin/userapi/storage"
)

// New migrates the user API's tables and returns the component.
func New(
	ctx context.Context, serverName string, cfg config.UserAPI, db *sqlutil.DB, c cache.Cache, b bus.Bus,
	log logrus.FieldLogger, reg prometheus.Registerer,
) (api.UserAPI, error) {
	store, err := storage.New(ctx, db)
	if err != nil {
		return nil, err
	}
	u, err := internal.New(internal.Options{
		ServerName:           serverName,
		BcryptCost:           cfg.BcryptCost,
		AccessTokenLifetime:  time.Duration(cfg.AccessTokenLifetime),
		RefreshTokenLifetime: time.Duration(cfg.RefreshTokenLifetime),
	}, store, c, b, log, reg)
	if err != nil {
		return nil, err
	}
	return u, nil
}
