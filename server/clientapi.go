package server

import (
	"context"

	"github.com/myelin-im/myelin/clientapi"
	"github.com/myelin-im/myelin/clientapi/admin"
	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	mediaapi "github.com/myelin-im/myelin/mediaapi/api"
)

func buildClientAPI(ctx context.Context, s *Server) error {
	var remote fedapi.Remote
	if s.Federation != nil {
		remote = s.Federation
	}
	var features map[string]bool
	if s.Media != nil {
		features = s.Media.UnstableFeatures()
	}
	clientapi.Setup(s.clientRouter, s.cfg, s.UserAPI, s.Roomserver, s.Cache, remote, features,
		s.log.WithField(httputil.FieldComponent, "clientapi"))
	var media mediaapi.Admin
	if s.Media != nil {
		media = s.Media
	}
	_, err := admin.Setup(ctx, s.clientRouter, admin.Deps{
		ServerName:    string(s.cfg.Global.ServerName),
		Version:       Version,
		Users:         s.UserAPI,
		Rooms:         s.Roomserver,
		ServerNotices: s.cfg.ServerNotices,
		Media:         media,
		DB:            s.DB,
		Log:           s.log.WithField(httputil.FieldComponent, "admin"),

		// Room exports (server/export.go).
		RoomExport:  s.Roomserver,
		MediaExport: s.mediaExporter(),
	})
	return err
}
