// Package roomserver is the room component: the single writer of room
// history. It builds, signs and authorises events, stores them with their
// state, and publishes the output log (api.OutputTopic) that the other
// components consume. Other components use it through roomserver/api.
package roomserver

import (
	"context"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/signingkey"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/internal"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// Option changes how New builds the roomserver.
type Option func(*internal.Options)

// WithDefaultRoomVersion makes v the version of rooms created without one
// ("" keeps api.DefaultRoomVersion).
func WithDefaultRoomVersion(v string) Option {
	return func(o *internal.Options) { o.DefaultRoomVersion = gomatrixserverlib.RoomVersion(v) }
}

// New migrates the roomserver's tables and returns the component. inviter
// reaches users of other servers for invites (nil: this process does not
// federate, and such invites are refused).
func New(
	ctx context.Context, serverName string, key *signingkey.Key, db *sqlutil.DB, b bus.Bus, log logrus.FieldLogger,
	inviter fedapi.RemoteInviter, opts ...Option,
) (api.RoomserverAPI, error) {
	store, err := storage.New(ctx, db)
	if err != nil {
		return nil, err
	}
	o := internal.Options{
		ServerName: spec.ServerName(serverName),
		KeyID:      gomatrixserverlib.KeyID(key.ID),
		PrivateKey: key.Private,
		Inviter:    inviter,
	}
	for _, opt := range opts {
		opt(&o)
	}
	// A purge runs in the process that started it: one still active was
	// cut short by a stop.
	if err := store.FailPurges(ctx, "interrupted: the server stopped", time.Now().UnixMilli()); err != nil {
		return nil, err
	}
	rs := internal.New(o, store, b, log)
	if err := rs.ResumeRoomDeletes(ctx); err != nil {
		return nil, fmt.Errorf("roomserver: resuming room deletes: %w", err)
	}
	return rs, nil
}
