package routing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/search"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// searchPage is one page of a search, with the events of its hits.
type searchPage struct {
	hits       []searchHit
	count      int
	next       string // next_batch, "" for none
	highlights []string
}

type searchHit struct {
	ev   *storage.Event
	rank float64
	rng  search.RoomRange
}

// runSearch asks the backend for one page among the rooms the user may
// search, and loads the events of its hits.
func (rt *Routes) runSearch(r *http.Request, dev *userapi.Device, c *roomEventsCriteria, b searchBatch) (*searchPage, error) {
	ctx := r.Context()
	page := &searchPage{highlights: search.Highlights(*c.SearchTerm)}
	if rt.searchBackend == nil || len(search.ParseQuery(*c.SearchTerm)) == 0 || c.Filter.matchesNothing() {
		return page, nil
	}
	// Read your writes: the user's last send is in the stream, and then in
	// the index, before the search runs.
	rt.catchUpUser(ctx, dev.UserID)
	ranges, err := rt.searchRanges(ctx, dev.UserID, &c.Filter.roomEventFilter)
	if err != nil || len(ranges) == 0 {
		return page, err
	}
	rt.waitIndexed(ctx)
	q := c.query(ranges)
	if b.End {
		// The page after a full last page: empty, with the count.
		q.Limit = 1
		res, err := rt.searchBackend.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		page.count = res.Count
		return page, nil
	}
	q.After = b.Backend
	res, err := rt.searchBackend.Search(ctx, q)
	if err != nil {
		return nil, errBadBatch(err)
	}
	page.count = res.Count
	if page.hits, err = rt.loadHits(ctx, res.Hits, ranges, &c.Filter.roomEventFilter); err != nil {
		return nil, err
	}
	if len(res.Hits) == q.Limit {
		page.next = searchBatch{Backend: res.Next, End: res.Next == ""}.token()
	}
	return page, nil
}

// matchesNothing: an empty list of rooms, senders or types allows nothing.
func (f *searchFilter) matchesNothing() bool {
	return (f.Rooms != nil && len(*f.Rooms) == 0) || (f.Senders != nil && len(*f.Senders) == 0) ||
		(f.Types != nil && len(*f.Types) == 0)
}

// query is the backend query of the criteria over ranges. Type patterns
// with '*' are checked on the events instead (loadHits).
func (c *roomEventsCriteria) query(ranges []search.RoomRange) search.Query {
	f := &c.Filter
	q := search.Query{Term: *c.SearchTerm, Keys: c.Keys, Rooms: ranges, NotSenders: f.NotSenders, Limit: *f.Limit}
	if c.OrderBy == "recent" {
		q.Order = search.ByRecent
	}
	if f.Senders != nil {
		q.Senders = *f.Senders
	}
	if f.Types != nil && !hasGlob(*f.Types) {
		q.Types = *f.Types
	}
	if !hasGlob(f.NotTypes) {
		q.NotTypes = f.NotTypes
	}
	if f.FromTS != nil {
		q.FromTS = *f.FromTS
	}
	if f.ToTS != nil {
		q.ToTS = *f.ToTS
	}
	return q
}

func hasGlob(patterns []string) bool {
	for _, p := range patterns {
		if strings.Contains(p, "*") {
			return true
		}
	}
	return false
}

// searchRanges are the rooms the user may search and the part of each they
// may see (spec: "Server Side Search": rooms the user is or was in, within
// their membership and history visibility). Encrypted rooms are left out
// (spec: the search does not include end-to-end encrypted rooms), and so
// are rooms the user never joined (a rejected invite) or forgot.
func (rt *Routes) searchRanges(ctx context.Context, userID string, f *roomEventFilter) ([]search.RoomRange, error) {
	rooms, err := rt.store.RoomsOfMember(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("rooms of the searcher: %w", err)
	}
	now := rt.notifier.Pos()
	var out []search.RoomRange
	for _, m := range rooms {
		if contains(f.NotRooms, m.RoomID, false) || (f.Rooms != nil && !contains(*f.Rooms, m.RoomID, false)) {
			continue
		}
		rng, ok, err := rt.searchRange(ctx, m, now)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rng)
		}
	}
	return out, nil
}

// searchRange is the visible part of one room, or false when the room is
// not searched.
func (rt *Routes) searchRange(ctx context.Context, m storage.RoomUserMembership, now int64) (search.RoomRange, bool, error) {
	_, err := rt.store.CurrentStateEvent(ctx, m.RoomID, "m.room.encryption", "")
	if err == nil {
		return search.RoomRange{}, false, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return search.RoomRange{}, false, fmt.Errorf("encryption state: %w", err)
	}
	if m.Membership != "join" {
		joined, _, err := rt.lastJoin(ctx, m.RoomID, m.UserID, m.Pos, false)
		if err != nil || !joined {
			return search.RoomRange{}, false, err
		}
	}
	lo, hi, err := rt.visibleRangeAt(ctx, m.RoomID, m.UserID, now)
	var me *httputil.MatrixError
	if errors.As(err, &me) && me.Status == http.StatusForbidden {
		return search.RoomRange{}, false, nil // forgotten
	}
	if err != nil {
		return search.RoomRange{}, false, err
	}
	return search.RoomRange{RoomID: m.RoomID, From: lo, To: hi}, hi > lo, nil
}

// loadHits loads the events of the hits, leaving out those redacted since
// they were indexed, outside the ranges, or refused by a type pattern.
func (rt *Routes) loadHits(ctx context.Context, hits []search.Hit, ranges []search.RoomRange, f *roomEventFilter) ([]searchHit, error) {
	byRoom := make(map[string]search.RoomRange, len(ranges))
	for _, r := range ranges {
		byRoom[r.RoomID] = r
	}
	out := make([]searchHit, 0, len(hits))
	for _, h := range hits {
		rng, ok := byRoom[h.RoomID]
		if !ok || h.Pos <= rng.From || h.Pos > rng.To {
			continue
		}
		ev, err := rt.store.EventByID(ctx, h.EventID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("search hit %s: %w", h.EventID, err)
		}
		if bytes.Contains(ev.JSON, []byte(`"redacted_because"`)) || !f.typeAllowed(ev.Type) {
			continue
		}
		out = append(out, searchHit{ev: ev, rank: h.Rank, rng: rng})
	}
	return out, nil
}

func (f *roomEventFilter) typeAllowed(t string) bool {
	return !contains(f.NotTypes, t, true) && (f.Types == nil || contains(*f.Types, t, true))
}
