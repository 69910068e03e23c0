package routing

import (
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
	"use /_matrix/client/v1/media/download")

// errFrozen answers the unauthenticated paths for media stored since the
// freeze.
var errFrozen = httputil.NotFound("This media is only served on /_matrix/client/v1/media/download")

// GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]
// (spec v1.11): authenticated.
func (rt *Routes) downloadAuthed(w http.ResponseWriter, r *http.Request, _ *userapi.Device) error {
	return rt.download(w, r, false)
}

// GET /_matrix/media/v3/download/{serverName}/{mediaId}[/{fileName}]:
// unauthenticated and deprecated (spec v1.11), served while
// legacy_media.enabled and only for media stored before the freeze.
func (rt *Routes) downloadLegacy(w http.ResponseWriter, r *http.Request) error {
	if !rt.opts.LegacyEnabled {
		return errLegacyOff
	}
	return rt.download(w, r, true)
}

// download serves a file, waiting for a created media ID's upload as long
// as timeout_ms says. Other servers' media is fetched from its origin when
// this server has no copy yet, unless allow_remote=false (spec: "to
// prevent routing loops") or the unauthenticated paths are frozen (a copy
// made now would be frozen): then only a copy already here is served.
func (rt *Routes) download(w http.ResponseWriter, r *http.Request, legacy bool) error {
	mxc, err := mxcFromPath(r)
	if err != nil {
		return err
	}
	name, overridden := httputil.Vars(r)["fileName"]
	if err := internal.CheckUploadName(name); err != nil {
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
	open := rt.media.Open
	if !q.allowRemote || frozenNow {
		open = rt.media.OpenStored
	}
	md, content, err := open(r.Context(), mxc, q.wait)
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
	if !overridden {
		name = md.UploadName
	}
	serveContent(w, r, md, content, name, legacy)
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
