package routing

import (
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// GET /_matrix/client/v1/media/config (and /_matrix/media/v3/config): the
// largest upload accepted.
func (rt *Routes) config(w http.ResponseWriter, r *http.Request, _ *userapi.Device) error {
	httputil.WriteJSON(w, http.StatusOK, map[string]int64{"m.upload.size": rt.media.MaxUploadBytes()})
	return nil
}
