package appservice

import (
	"context"
	"errors"
	"net/http"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/appservice/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// Directory is a room directory whose unknown aliases in a service's alias
// namespace are asked of the service before they are reported unknown (see
// QueryAlias): what other servers' directory queries read, so that they
// reach bridged portals too.
type Directory struct {
	roomapi.Directory
	Client *http.Client
	Reg    *api.Registry
	Log    logrus.FieldLogger
}

// WrapDirectory returns dir with alias queries to the registered services;
// with none it returns dir itself.
func WrapDirectory(dir roomapi.Directory, reg *api.Registry, log logrus.FieldLogger) roomapi.Directory {
	if len(reg.All()) == 0 || dir == nil {
		return dir
	}
	return &Directory{Directory: dir, Client: &http.Client{Timeout: QueryTimeout}, Reg: reg, Log: log}
}

// ResolveAlias implements roomapi.Directory.
func (d *Directory) ResolveAlias(ctx context.Context, alias string) (string, error) {
	roomID, err := d.Directory.ResolveAlias(ctx, alias)
	if errors.Is(err, roomapi.ErrAliasNotFound) && QueryAlias(ctx, d.Client, d.Reg, alias, d.Log) {
		return d.Directory.ResolveAlias(ctx, alias)
	}
	return roomID, err
}
