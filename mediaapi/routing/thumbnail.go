package routing

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/myelin-im/myelin/mediaapi/api"
)

// GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId} and GET
// /_matrix/media/v3/thumbnail/...: thumbnail serves a thumbnail (spec:
// client-server API, "Thumbnails") with a download's checks and headers,
// inline and named thumbnail.<type> (the authenticated endpoint's
// Content-Disposition, required since v1.12).
func (rt *Routes) thumbnail(w http.ResponseWriter, r *http.Request, legacy bool) error {
	want, err := api.ParseThumbnailSpec(r.URL.Query())
	if err != nil {
		return err
	}
	open := func(ctx context.Context, mxc api.MXC, wait time.Duration, fetch bool) (*api.Metadata, api.Content, error) {
		remote := mxc.ServerName != rt.media.ServerName()
		if remote && !fetch {
			return nil, nil, api.ErrNotFound // thumbnails of what is not here are asked of its origin
		}
		md, content, err := rt.media.Thumbnail(ctx, mxc, want, wait)
		if remote && errors.Is(err, api.ErrTooLargeToThumbnail) {
			return nil, nil, api.ErrRemoteTooLargeToThumbnail
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
