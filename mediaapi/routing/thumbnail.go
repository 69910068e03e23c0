package routing

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/mediaapi/api"
)

// errRemoteTooLarge answers a thumbnail of remote media over the pixel
// limit: 502 M_TOO_LARGE, the spec's answer for remote content
// (authed-content-repo.yaml, thumbnail), where local content is 413.
var errRemoteTooLarge = &httputil.MatrixError{
	Status:  http.StatusBadGateway,
	ErrCode: "M_TOO_LARGE",
	Message: "The remote content is too large to thumbnail",
}

// GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId} and GET
// /_matrix/media/v3/thumbnail/...: thumbnail serves a thumbnail (spec:
// client-server API, "Thumbnails") with a download's checks and headers,
// inline and named thumbnail.<type> (the authenticated endpoint's
// Content-Disposition, required since v1.12).
func (rt *Routes) thumbnail(w http.ResponseWriter, r *http.Request, legacy bool) error {
	want, err := parseThumbnailQuery(r.URL.Query())
	if err != nil {
		return err
	}
	open := func(ctx context.Context, mxc api.MXC, wait time.Duration) (*api.Metadata, api.Content, error) {
		md, content, err := rt.media.Thumbnail(ctx, mxc, want, wait)
		if mxc.ServerName != rt.media.ServerName() && errors.Is(err, api.ErrTooLargeToThumbnail) {
			return nil, nil, errRemoteTooLarge
		}
		return md, content, err
	}
	return rt.serveMedia(w, r, legacy, open, thumbnailName)
}

// thumbnailName names a thumbnail by its type: thumbnail.png,
// thumbnail.jpeg (the spec's example is thumbnail.png).
func thumbnailName(md *api.Metadata) string {
	mediaType, _, _ := mime.ParseMediaType(md.ContentType)
	return "thumbnail." + strings.TrimPrefix(mediaType, "image/")
}

// parseThumbnailQuery reads width and height (required: 400
// M_MISSING_PARAM without them, M_INVALID_PARAM when not positive whole
// numbers), method (crop or scale; scale when absent, as Synapse) and
// animated (false when absent: the spec has the server not animate then).
func parseThumbnailQuery(q url.Values) (api.ThumbnailSpec, error) {
	var want api.ThumbnailSpec
	var err error
	if want.Width, err = dimension(q, "width"); err != nil {
		return want, err
	}
	if want.Height, err = dimension(q, "height"); err != nil {
		return want, err
	}
	switch m := api.ThumbnailMethod(q.Get("method")); m {
	case "", api.ThumbnailScale:
		want.Method = api.ThumbnailScale
	case api.ThumbnailCrop:
		want.Method = m
	default:
		return want, api.InvalidParam("method must be crop or scale")
	}
	switch q.Get("animated") {
	case "", "false":
	case "true":
		want.Animated = true
	default:
		return want, api.InvalidParam("animated must be true or false")
	}
	return want, nil
}

// dimension reads a required positive whole number of pixels.
func dimension(q url.Values, name string) (int, error) {
	v := q.Get(name)
	if v == "" {
		return 0, httputil.MissingParam("%s is required", name)
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 1 {
		return 0, api.InvalidParam("%s must be a positive whole number of pixels", name)
	}
	return int(n), nil
}
