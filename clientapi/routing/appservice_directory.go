package routing

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/appservice"
	"github.com/myelin-im/myelin/appservice/storage"
	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// networkRoomsHolder is a user API that keeps the rooms application
// services publish in their networks' directories (appservice.Users).
type networkRoomsHolder interface {
	NetworkRooms() *storage.Store
}

func (rt *Routes) networkRooms() *storage.Store {
	if h, ok := rt.users.(networkRoomsHolder); ok {
		return h.NetworkRooms()
	}
	return nil
}

// PUT /v3/directory/list/appservice/{networkId}/{roomId} (spec:
// application service API, "Published room directories"): a service
// publishes a room in the directory of one of its networks, or withdraws it.
func (rt *Routes) putNetworkVisibility(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	v := httputil.Vars(r)
	store := rt.networkRooms()
	if dev.AppServiceID == "" || store == nil {
		return httputil.Forbidden("Only application services publish rooms in their networks' directories")
	}
	if err := checkRoomID(v["roomId"]); err != nil {
		return err
	}
	var req struct {
		Visibility string `json:"visibility"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	switch req.Visibility {
	case "public", "private":
	case "":
		return httputil.MissingParam("Missing visibility")
	default:
		return httputil.InvalidParam("visibility must be public or private")
	}
	if _, err := rt.rooms.RoomSummary(r.Context(), v["roomId"]); errors.Is(err, roomapi.ErrRoomNotFound) {
		return httputil.NotFound("Unknown room")
	} else if err != nil {
		return err
	}
	room := storage.NetworkRoom{AppServiceID: dev.AppServiceID, NetworkID: v["networkId"], RoomID: v["roomId"]}
	if err := store.SetPublished(r.Context(), room, req.Visibility == "public"); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// networkPublicRooms is /publicRooms for one network
// (third_party_instance_id): the rooms its service published there, by
// room ID, filtered by the search term, in pages of limit.
func (rt *Routes) networkPublicRooms(ctx context.Context, req publicRoomsRequest, limit int) (roomapi.PublicRoomsPaging, error) {
	page := roomapi.PublicRoomsPaging{Chunk: []roomapi.PublicRoom{}}
	asID, network, ok := appservice.SplitInstanceID(req.ThirdPartyInstanceID)
	store := rt.networkRooms()
	if !ok || store == nil {
		return page, nil // no such network: no rooms
	}
	offset := 0
	if req.Since != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(req.Since, "o"))
		if err != nil || n < 0 || !strings.HasPrefix(req.Since, "o") {
			return page, httputil.InvalidParam("Invalid since token")
		}
		offset = n
	}
	ids, err := store.Rooms(ctx, asID, network)
	if err != nil {
		return page, err
	}
	rooms := rt.publicRoomsOf(ctx, ids, req.Filter.GenericSearchTerm)
	page.Total = len(rooms)
	if offset > len(rooms) {
		offset = len(rooms)
	}
	end := min(offset+limit, len(rooms))
	page.Chunk = append(page.Chunk, rooms[offset:end]...)
	if end < len(rooms) {
		page.NextBatch = "o" + strconv.Itoa(end)
	}
	if offset > 0 {
		page.PrevBatch = "o" + strconv.Itoa(max(offset-limit, 0))
	}
	return page, nil
}

// withNetworkRooms adds the rooms published in every network to the last
// page of the server's own directory (include_all_networks), each once.
func (rt *Routes) withNetworkRooms(ctx context.Context, page *roomapi.PublicRoomsPaging, term string) error {
	store := rt.networkRooms()
	if store == nil || page.NextBatch != "" {
		return nil
	}
	ids, err := store.Rooms(ctx, "", "")
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(page.Chunk))
	for _, r := range page.Chunk {
		seen[r.RoomID] = true
	}
	var extra []string
	for _, id := range ids {
		if !seen[id] {
			extra = append(extra, id)
		}
	}
	added := rt.publicRoomsOf(ctx, extra, term)
	page.Chunk = append(page.Chunk, added...)
	page.Total += len(added)
	return nil
}

// publicRoomsOf describes rooms as the directory does, keeping those whose
// name, topic, canonical alias or ID contains term (ignoring case); rooms
// this server no longer knows are left out.
func (rt *Routes) publicRoomsOf(ctx context.Context, ids []string, term string) []roomapi.PublicRoom {
	term = strings.ToLower(term)
	var out []roomapi.PublicRoom
	for _, id := range ids {
		s, err := rt.rooms.RoomSummary(ctx, id)
		if err != nil {
			continue
		}
		p := s.PublicRoom
		text := strings.ToLower(p.Name + "\n" + p.Topic + "\n" + p.CanonicalAlias + "\n" + p.RoomID)
		if term == "" || strings.Contains(text, term) {
			out = append(out, p)
		}
	}
	return out
}
