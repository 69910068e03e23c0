package federationapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// maxPublicRooms bounds a page of the directory served to other servers.
const maxPublicRooms = 500

// GET and POST /_matrix/federation/v1/publicRooms: this server's published
// rooms (spec: "Public Room Directory").
func (f *FederationAPI) publicRooms(w http.ResponseWriter, r *http.Request, _ spec.ServerName, body []byte) error {
	var req struct {
		Limit  int    `json:"limit"`
		Since  string `json:"since"`
		Filter struct {
			GenericSearchTerm string    `json:"generic_search_term"`
			RoomTypes         []*string `json:"room_types"`
		} `json:"filter"`
		ThirdPartyInstanceID string `json:"third_party_instance_id"`
	}
	if r.Method == http.MethodPost {
		if err := json.Unmarshal(body, &req); err != nil {
			return httputil.BadJSON("bad request: %v", err)
		}
	} else {
		q := r.URL.Query()
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return httputil.InvalidParam("limit must be an integer")
			}
			req.Limit = n
		}
		req.Since, req.ThirdPartyInstanceID = q.Get("since"), q.Get("third_party_instance_id")
	}
	if f.opts.Directory == nil || req.ThirdPartyInstanceID != "" {
		httputil.WriteJSON(w, http.StatusOK, roomapi.PublicRoomsPaging{Chunk: []roomapi.PublicRoom{}})
		return nil
	}
	limit := maxPublicRooms
	if req.Limit > 0 {
		limit = min(req.Limit, maxPublicRooms)
	}
	page, err := roomapi.PublicRoomsPage(r.Context(), f.opts.Directory, req.Since, limit,
		req.Filter.GenericSearchTerm, req.Filter.RoomTypes)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, page)
	return nil
}

// RemotePublicRooms asks another server for a page of its directory (the
// client API's /publicRooms?server=). body is the client's request body
// (limit, since, filter, …).
func (f *FederationAPI) RemotePublicRooms(ctx context.Context, server string, body json.RawMessage) (json.RawMessage, error) {
	var out json.RawMessage
	if err := f.ask(ctx, http.MethodPost, spec.ServerName(server), "/_matrix/federation/v1/publicRooms", body, &out); err != nil {
		return nil, fmt.Errorf("federationapi: public rooms of %s: %w", server, err)
	}
	return out, nil
}
