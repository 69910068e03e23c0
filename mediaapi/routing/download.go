package routing

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// errLegacyOff answers the unauthenticated paths when they are turned off
// (spec: they MAY answer 404 M_NOT_FOUND).
var errLegacyOff = httputil.NotFound("Unauthenticated media downloads are turned off on this server: " +
	"use the authenticated ones under /_matrix/client/v1/media")

// errFrozen answers the unauthenticated paths for media stored since the
// freeze.
var errFrozen = httputil.NotFound("This media is only served on the authenticated endpoints under /_matrix/client/v1/media")

// mediaRead answers a read of media (a download, a thumbnail) on an
// authenticated path or, legacy, an unauthenticated one.
type mediaRead func(w http.ResponseWriter, r *http.Request, legacy bool) error

// authedRead serves read on its authenticated path
// (/_matrix/client/v1/media/..., spec v1.11).
func (rt *Routes) authedRead(read mediaRead) httputil.Handler {
	return rt.authed(func(w http.ResponseWriter, r *http.Request, _ *userapi.Device) error { return read(w, r, false) })
}

// legacyRead serves read on its unauthenticated, deprecated path
// (/_matrix/media/v3/..., spec v1.11) while legacy_media.enabled, and only
// for media stored before the freeze.
func (rt *Routes) legacyRead(read mediaRead) httputil.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !rt.opts.LegacyEnabled {
			return errLegacyOff
		}
		return read(w, r, true)
	}
}

// GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]
// and GET /_matrix/media/v3/download/...: download serves a file, waiting
// for a created media ID's upload as long as timeout_ms says, named by the
// path's file name or else the uploaded one.
func (rt *Routes) download(w http.ResponseWriter, r *http.Request, legacy bool) error {
	name, overridden := httputil.Vars(r)["fileName"]
	if err := internal.CheckUploadName(name); err != nil {
		return err
	}
	nameOf := func(md *api.Metadata) string {
		if overridden {
			return name
		}
		return md.UploadName
	}
	open := func(ctx context.Context, mxc api.MXC, wait time.Duration, fetch bool) (*api.Metadata, api.Content, error) {
		if fetch {
			return rt.media.Open(ctx, mxc, wait)
		}
		return rt.media.OpenStored(ctx, mxc, wait)
	}
	return rt.serveMedia(w, r, legacy, open, nameOf)
}

// opener opens what a request reads of the media an mxc:// URI names (the
// file, a thumbnail of it), waiting up to wait for a created media ID's
// upload, and fetching other servers' media from its origin when fetch
// says so (else only what this server already has).
type opener func(ctx context.Context, mxc api.MXC, wait time.Duration, fetch bool) (*api.Metadata, api.Content, error)

// serveMedia answers a read of media, downloads and thumbnails alike: the
// path's mxc:// URI and the query's timeout_ms and allow_remote, the
// unauthenticated paths' freeze (legacy), then open's answer, named by
// nameOf. Other servers' media is fetched from its origin when this
// server has no copy yet, unless allow_remote=false (spec: "to prevent
// routing loops") or the unauthenticated paths are frozen (a copy made now
// would be frozen).
func (rt *Routes) serveMedia(w http.ResponseWriter, r *http.Request, legacy bool, open opener, nameOf func(*api.Metadata) string) error {
	mxc, err := mxcFromPath(r)
	if err != nil {
		return err
	}
	q, err := parseDownloadQuery(r)
	if err != nil {
		return err
	}
	frozenNow := legacy && rt.frozen(time.Now().UnixMilli())
	if frozenNow {
		q.wait = 0 // whatever is uploaded from now on is frozen
	}
	md, content, err := open(r.Context(), mxc, q.wait, q.allowRemote && !frozenNow)
	if frozenNow && errors.Is(err, api.ErrNotYetUploaded) {
		return errFrozen
	}
	if err != nil {
		return err
	}
	defer func() { _ = content.Close() }()
	if legacy && rt.frozen(md.CreatedTS) {
		return errFrozen
	}
	serveContent(w, r, md, content, nameOf(md), legacy)
	return nil
}

// frozen says whether media stored at ms (milliseconds since the epoch) is
// kept off the unauthenticated paths: the spec's freeze covers media
// uploaded "after (or during)" it.
func (rt *Routes) frozen(ms int64) bool {
	return !rt.opts.FrozenAfter.IsZero() && ms >= rt.opts.FrozenAfter.UnixMilli()
}

// downloadQuery is a download's query parameters.
type downloadQuery struct {
	wait        time.Duration
	allowRemote bool
}

// parseDownloadQuery reads timeout_ms, allow_remote and allow_redirect
// (which is checked but changes nothing: this server never redirects).
func parseDownloadQuery(r *http.Request) (downloadQuery, error) {
	query := r.URL.Query()
	var q downloadQuery
	var err error
	if q.wait, err = api.ParseTimeout(query.Get("timeout_ms")); err != nil {
		return q, err
	}
	if q.allowRemote, err = api.ParseBool(query.Get("allow_remote"), "allow_remote", true); err != nil {
		return q, err
	}
	_, err = api.ParseBool(query.Get("allow_redirect"), "allow_redirect", true)
	return q, err
}
