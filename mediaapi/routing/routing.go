// Package routing serves the media component's client endpoints (client-
// server API, "Content repository"): uploads (upload.go), downloads
// (download.go, with the response headers of headers.go), thumbnails
// (thumbnail.go, served as downloads are), the repository's configuration
// (config.go), URL previews (preview.go), and Myelin's extensions: batch
// transfer (batch.go) and voice-message transcription (transcribe.go), each
// registered from Setup.
package routing

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Path prefixes of the media endpoints: the authenticated ones (spec
// v1.11) and the older ones, where upload and create still live.
const (
	clientMedia = "/_matrix/client/v1/media"
	legacyMedia = "/_matrix/media"
)

// Options configure the media routes.
type Options struct {
	// LegacyEnabled serves the unauthenticated /_matrix/media/v3/download
	// and /_matrix/media/v3/thumbnail paths.
	LegacyEnabled bool
	// FrozenAfter, when not zero, keeps media stored from then on off the
	// unauthenticated paths (the spec's freeze).
	FrozenAfter time.Time
	// Previews answers preview_url; nil when URL previews are off, and
	// then its paths are not served (404 M_UNRECOGNIZED, as for any
	// endpoint a server does not offer).
	Previews *internal.URLPreviews
	// Transcriber serves voice-message transcription.
	Transcriber *internal.Transcriber
}

// Routes serves the media endpoints.
type Routes struct {
	media *internal.Media
	users userapi.Sessions
	opts  Options
}

// Setup registers the media endpoints on r. Uploads accept bodies of up to
// the media component's upload limit; every other route keeps the
// listener's.
func Setup(r *mux.Router, media *internal.Media, users userapi.Sessions, opts Options) *Routes {
	rt := &Routes{media: media, users: users, opts: opts}
	// One more byte than the largest upload, so that the upload's own
	// limit, with its M_TOO_LARGE, is what a body too large runs into.
	uploadBody := func(h http.Handler) http.Handler { return httputil.WithBodyLimit(media.MaxUploadBytes()+1, h) }
	r.Handle(legacyMedia+"/v3/upload", uploadBody(rt.authed(rt.upload))).Methods(http.MethodPost)
	r.Handle(legacyMedia+"/v3/upload/{serverName}/{mediaId}", uploadBody(rt.authed(rt.uploadTo))).Methods(http.MethodPut)
	r.Handle(legacyMedia+"/v1/create", rt.authed(rt.create)).Methods(http.MethodPost)

	r.Handle(clientMedia+"/config", rt.authed(rt.config)).Methods(http.MethodGet)
	r.Handle(legacyMedia+"/v3/config", rt.authed(rt.config)).Methods(http.MethodGet)

	if opts.Previews != nil {
		r.Handle(clientMedia+"/preview_url", rt.authed(rt.previewURL)).Methods(http.MethodGet)
		r.Handle(legacyMedia+"/v3/preview_url", rt.authed(rt.previewURL)).Methods(http.MethodGet)
	}

	for _, p := range []string{"/download/{serverName}/{mediaId}", "/download/{serverName}/{mediaId}/{fileName}"} {
		r.Handle(clientMedia+p, rt.authedRead(rt.download)).Methods(http.MethodGet, http.MethodHead)
		r.Handle(legacyMedia+"/v3"+p, rt.legacyRead(rt.download)).Methods(http.MethodGet, http.MethodHead)
	}
	const thumbnail = "/thumbnail/{serverName}/{mediaId}"
	r.Handle(clientMedia+thumbnail, rt.authedRead(rt.thumbnail)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(legacyMedia+"/v3"+thumbnail, rt.legacyRead(rt.thumbnail)).Methods(http.MethodGet, http.MethodHead)
	rt.setupBatch(r)
	rt.setupTranscribe(r)
	return rt
}

type authedHandler func(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error

// authed resolves the access token to a device before running h (spec:
// "Client authentication"; 401 M_MISSING_TOKEN without one).
func (rt *Routes) authed(h authedHandler) httputil.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		dev, err := userapi.Authenticate(r.Context(), rt.users, httputil.AccessToken(r))
		if err != nil {
			return err
		}
		log := httputil.Logger(r.Context()).WithFields(logrus.Fields{httputil.FieldUserID: dev.UserID, httputil.FieldDeviceID: dev.ID})
		return h(w, r.WithContext(httputil.WithLogger(r.Context(), log)), dev)
	}
}

// mxcFromPath reads the {serverName} and {mediaId} of the path, refusing
// (400 M_INVALID_PARAM) what is not a server name or a media ID of the
// spec's grammar: nothing a request names can reach outside the content
// repository (spec: content repository, "Security considerations").
func mxcFromPath(r *http.Request) (api.MXC, error) {
	vars := httputil.Vars(r)
	if err := mxid.ValidateServerName(vars["serverName"]); err != nil {
		return api.MXC{}, api.InvalidParam("%v", err)
	}
	id, err := api.ParseMediaID(vars["mediaId"])
	if err != nil {
		return api.MXC{}, err
	}
	return api.MXC{ServerName: vars["serverName"], MediaID: id}, nil
}
