package server

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"

	"github.com/matrix-org/gomatrixserverlib"

	"github.com/myelin-im/myelin/federationapi"
	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/config"
	mediasapi "github.com/myelin-im/myelin/mediaapi/api"
)

// lateFederation stands in for the federation component to the components
// built before it: the roomserver invites users of other servers through
// it, the sync component backfills history, and the media component
// fetches other servers' media. The federation component needs the
// roomserver and serves the media component's files, so it comes later in
// the construction table; it is set here once built, before any listener
// starts.
type lateFederation struct {
	fed atomic.Pointer[federationapi.FederationAPI]
}

var _ interface {
	fedapi.RemoteInviter
	fedapi.Backfiller
	mediasapi.RemoteFetcher
} = (*lateFederation)(nil)

// errFederationNotBuilt is what a call gets before the federation
// component is built (no request is served that early).
var errFederationNotBuilt = errors.New("server: the federation component is not built yet")

func (l *lateFederation) set(f *federationapi.FederationAPI) { l.fed.Store(f) }

// SendInvite implements fedapi.RemoteInviter.
func (l *lateFederation) SendInvite(
	ctx context.Context, invite gomatrixserverlib.PDU, inviteRoomState []json.RawMessage,
) (gomatrixserverlib.PDU, error) {
	f := l.fed.Load()
	if f == nil {
		return nil, errFederationNotBuilt
	}
	return f.SendInvite(ctx, invite, inviteRoomState)
}

// Backfill implements fedapi.Backfiller.
func (l *lateFederation) Backfill(ctx context.Context, roomID string, from []string, limit int) ([]gomatrixserverlib.PDU, error) {
	f := l.fed.Load()
	if f == nil {
		return nil, errFederationNotBuilt
	}
	return f.Backfill(ctx, roomID, from, limit)
}

// TimestampToEvent implements fedapi.Backfiller.
func (l *lateFederation) TimestampToEvent(ctx context.Context, roomID string, ts int64, forward bool) (fedapi.EventAt, error) {
	f := l.fed.Load()
	if f == nil {
		return fedapi.EventAt{}, errFederationNotBuilt
	}
	return f.TimestampToEvent(ctx, roomID, ts, forward)
}

// FetchMedia implements mediasapi.RemoteFetcher.
func (l *lateFederation) FetchMedia(ctx context.Context, m mediasapi.MXC) (*mediasapi.RemoteMedia, error) {
	f := l.fed.Load()
	if f == nil {
		return nil, errFederationNotBuilt
	}
	return f.FetchMedia(ctx, m)
}

// FetchThumbnail implements mediasapi.RemoteFetcher.
func (l *lateFederation) FetchThumbnail(
	ctx context.Context, m mediasapi.MXC, want mediasapi.ThumbnailSpec,
) (*mediasapi.RemoteMedia, error) {
	f := l.fed.Load()
	if f == nil {
		return nil, errFederationNotBuilt
	}
	return f.FetchThumbnail(ctx, m, want)
}

// inviter is what the roomserver invites remote users through: nil when
// this process runs no federation (such invites are then refused).
func (s *Server) inviter() fedapi.RemoteInviter {
	if !s.cfg.Runs(config.ComponentFederationAPI) {
		return nil
	}
	return &s.lateFed
}

// backfiller is what /messages fetches older history through: nil when
// this process runs no federation.
func (s *Server) backfiller() fedapi.Backfiller {
	if !s.cfg.Runs(config.ComponentFederationAPI) {
		return nil
	}
	return &s.lateFed
}

// mediaFetcher is what the media component fetches other servers' media
// through: nil when this process runs no federation (their media is then
// not found).
func (s *Server) mediaFetcher() mediasapi.RemoteFetcher {
	if !s.cfg.Runs(config.ComponentFederationAPI) {
		return nil
	}
	return &s.lateFed
}
