package routing

import (
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// User directory search bounds: limit defaults to 10 (users.yaml); larger
// limits are cut to the user API's maximum; a longer search term than
// maxSearchTermBytes is refused.
const (
	defaultDirectoryLimit = 10
	maxSearchTermBytes    = 512
)

// setupUserDirectory registers the user directory (spec: "User
// directory", users.yaml). rt.authed applies the per-token request limit.
func (rt *Routes) setupUserDirectory(v3 prefixed) {
	v3.Handle("/user_directory/search", rt.authed(rt.searchUserDirectory)).Methods(http.MethodPost)
}

// directoryUser is one result. im.myelin.signature is an extension field
// (docs/api-extensions.md): the product shows signatures in search results.
type directoryUser struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
	Signature   string `json:"im.myelin.signature,omitempty"`
}

// POST /v3/user_directory/search
func (rt *Routes) searchUserDirectory(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		SearchTerm *string `json:"search_term"`
		Limit      *int    `json:"limit"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.SearchTerm == nil {
		return httputil.MissingParam("Missing search_term")
	}
	if len(*req.SearchTerm) > maxSearchTermBytes {
		return httputil.InvalidParam("search_term is longer than %d bytes", maxSearchTermBytes)
	}
	limit := defaultDirectoryLimit
	if req.Limit != nil {
		if *req.Limit < 1 {
			return httputil.InvalidParam("limit must be at least 1")
		}
		limit = *req.Limit
	}
	res, err := rt.users.SearchUserDirectory(r.Context(), api.UserDirectorySearch{
		SearcherID: dev.UserID, SearchTerm: *req.SearchTerm, Limit: limit,
	})
	if err != nil {
		return err
	}
	out := make([]directoryUser, 0, len(res.Results))
	for _, u := range res.Results {
		out = append(out, directoryUser{UserID: u.UserID, DisplayName: u.DisplayName, AvatarURL: u.AvatarURL, Signature: u.Signature})
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"results": out, "limited": res.Limited})
	return nil
}
