package server

import (
	"context"

	"github.com/myelin-im/myelin/appservice"
	"github.com/myelin-im/myelin/appservice/storage"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/httputil"
)

// loadAppServices reads and checks the registration files; a bad one stops
// the server with every problem listed (a *config.Errors).
func (s *Server) loadAppServices() error {
	reg, err := appservice.LoadFiles(s.cfg.Global.ServerName, s.cfg.AppServices.RegistrationFiles)
	if err != nil {
		return err
	}
	s.appServices = reg
	if len(reg.All()) > 0 {
		s.log.WithField("count", len(reg.All())).Info("application services registered")
	}
	return nil
}

// wireAppServices lets the registered services' as_tokens act as their
// users on the client API: their sender users exist, the user API accepts
// the tokens and the router keeps the user_id and device_id parameters.
func (s *Server) wireAppServices(ctx context.Context) error {
	if len(s.appServices.All()) == 0 {
		return nil
	}
	if err := appservice.EnsureSenders(ctx, s.UserAPI, s.appServices); err != nil {
		return err
	}
	store, err := storage.New(ctx, s.DB)
	if err != nil {
		return err
	}
	s.asStore = store
	s.UserAPI = appservice.WrapUserAPI(s.UserAPI, s.appServices, store)
	s.clientRouter.Use(appservice.Masquerade)
	return nil
}

// startAppServiceSenders pushes the registered services their events, in
// the process that runs the roomserver (whose output log they read).
func (s *Server) startAppServiceSenders(ctx context.Context) error {
	if len(s.appServices.All()) == 0 || s.Roomserver == nil || !s.cfg.Runs(config.ComponentRoomServer) {
		return nil
	}
	store := s.asStore
	if store == nil {
		var err error
		if store, err = storage.New(ctx, s.DB); err != nil {
			return err
		}
	}
	o := appservice.SendersOptions{
		Bus: s.Bus, Reg: s.appServices, Rooms: s.Roomserver, Store: store,
		Log: s.log.WithField(httputil.FieldComponent, "appservice"),
	}
	if s.UserAPI != nil {
		o.ToDevice = s.UserAPI // to-device messages, where the user API runs too
	}
	senders, err := appservice.StartSenders(ctx, o)
	if err != nil {
		return err
	}
	s.asSenders = senders
	return nil
}
