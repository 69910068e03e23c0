package routing

import (
	"encoding/base64"
	"net/http"
	"slices"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	"github.com/myelin-im/myelin/userapi/api"
)

// mutualRoomsPage is how many rooms one page of GET /v1/mutual_rooms holds.
const mutualRoomsPage = 100

// msc2666Prefix is MSC2666's unstable prefix, which clients released before
// the endpoint was in the spec call (advertised as
// uk.half-shot.msc2666.query_mutual_rooms).
const msc2666Prefix = "/_matrix/client/unstable/uk.half-shot.msc2666"

// GET /v1/mutual_rooms?user_id=&from= (spec: "Mutual Rooms", MSC2666): the
// rooms both the requester and user_id are joined to, by room ID, a page
// at a time. A user this server knows nothing of shares no room: an empty
// list (the spec's "MUST return an empty list" for an invalid user).
func (rt *Routes) mutualRooms(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	q := r.URL.Query()
	other := q.Get("user_id")
	if other == "" {
		return httputil.MissingParam("Missing user_id")
	}
	if err := mxid.ValidateUserID(other); err != nil {
		return httputil.InvalidParam("Invalid user_id: %v", err)
	}
	if other == dev.UserID {
		return httputil.InvalidParam("user_id is your own user ID")
	}
	mine, err := rt.rooms.JoinedRooms(r.Context(), dev.UserID)
	if err != nil {
		return err
	}
	theirs, err := rt.rooms.JoinedRooms(r.Context(), other)
	if err != nil {
		return err
	}
	shared := intersectSorted(mine, theirs)
	page, next, err := pageMutualRooms(shared, q.Get("from"), mutualRoomsPage)
	if err != nil {
		return err
	}
	out := map[string]any{"joined": page, "count": len(shared)}
	if next != "" {
		out["next_batch"] = next
	}
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}

// intersectSorted returns the IDs in both lists, sorted (never nil): both
// are sorted, then walked once, so a user in thousands of rooms costs
// O(n log n), not a scan of one list per entry of the other.
func intersectSorted(a, b []string) []string {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	out := []string{}
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// pageMutualRooms returns the page of sorted room IDs after the one from
// names ("" : from the start) and the token of the next page ("": none).
// A token is the last room ID of the page before, base64url-encoded: it
// stays valid when rooms are joined or left between pages.
func pageMutualRooms(sorted []string, from string, size int) (page []string, next string, err error) {
	start := 0
	if from != "" {
		b, derr := base64.RawURLEncoding.DecodeString(from)
		if derr != nil || mxid.ValidateRoomID(string(b)) != nil {
			return nil, "", httputil.InvalidParam("Invalid from token")
		}
		start, _ = slices.BinarySearch(sorted, string(b))
		if start < len(sorted) && sorted[start] == string(b) {
			start++
		}
	}
	page = sorted[start:]
	if len(page) > size {
		page = page[:size]
		next = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1]))
	}
	if page == nil {
		page = []string{}
	}
	return slices.Clip(page), next, nil
}
