package routing

import (
	"net/http"
	"strconv"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/mediaapi/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// GET /_matrix/client/v1/media/preview_url?url=…[&ts=…] (and the
// deprecated /_matrix/media/v3/preview_url, which also needs an access
// token): the page's OpenGraph data, its image as an mxc:// URI (client-
// server API, content repository, "preview_url"). ts, the point in time the
// client would like a preview for, must be an integer if given, but the
// answer is the cached or current preview whatever it says: the spec lets
// a server answer a newer version than asked for, and this server keeps no
// older ones.
func (rt *Routes) previewURL(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	query := r.URL.Query()
	url := query.Get("url")
	if url == "" {
		return httputil.MissingParam("the url parameter is required")
	}
	if ts := query.Get("ts"); ts != "" {
		if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
			return api.InvalidParam("ts must be a whole number of milliseconds since the epoch")
		}
	}
	answer, err := rt.opts.Previews.Preview(r.Context(), dev.UserID, url)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, answer)
	return nil
}
