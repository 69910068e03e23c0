package server

import (
	"context"

	"github.com/myelin-im/myelin/clientapi"
	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
)

func buildClientAPI(_ context.Context, s *Server) error {
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
	return nil
}
