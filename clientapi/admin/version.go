package admin

import (
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
)

// handlerFunc is an admin route that needs no admin: its errors become
// Matrix error JSON like every other handler's.
type handlerFunc = httputil.Handler

// GET /_synapse/admin/v1/server_version: Synapse serves it without
// authentication, and so do we (tools probe it before logging in).
func (a *Admin) serverVersion(w http.ResponseWriter, _ *http.Request) error {
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"server_version": a.d.Version})
	return nil
}
