package routing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/search"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// POST /v3/search (spec: "Server Side Search"): the room_events category,
// answered by the search backend among the events the user may see
// (search_rooms.go) and rendered with context, state and groups
// (search_results.go).

// Limits of a search request.
const (
	defaultSearchLimit  = 10
	maxSearchLimit      = 100
	defaultContextSide  = 5
	maxContextSide      = 50
	maxSearchTermLength = 1024
)

// SetSearch gives the routes the search backend; without one (search.backend
// off, or no search in this process) every search finds nothing. indexed,
// when not nil, waits until the backend holds every event up to a stream
// position (the indexer's WaitFor).
func (rt *Routes) SetSearch(b search.Backend, indexed func(ctx context.Context, pos int64) bool) {
	rt.searchBackend, rt.searchIndexed = b, indexed
}

// searchIndexWait bounds how long a search waits for the indexer to reach
// what the stream holds when it starts: what a user's /sync has shown is
// found, unless the backend is down or far behind.
const searchIndexWait = time.Second

// waitIndexed waits (bounded) until the backend holds every event the
// stream held when the search started.
func (rt *Routes) waitIndexed(ctx context.Context) {
	if rt.searchIndexed == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, searchIndexWait)
	defer cancel()
	if !rt.searchIndexed(ctx, rt.notifier.Pos()) {
		httputil.Logger(ctx).Debug("search: the index is behind the stream; searching what it holds")
	}
}

type searchRequest struct {
	SearchCategories *struct {
		RoomEvents *roomEventsCriteria `json:"room_events"`
	} `json:"search_categories"`
}

// roomEventsCriteria is search_categories.room_events.
type roomEventsCriteria struct {
	SearchTerm   *string         `json:"search_term"`
	Keys         []string        `json:"keys"`
	Filter       searchFilter    `json:"filter"`
	OrderBy      string          `json:"order_by"`
	EventContext *contextRequest `json:"event_context"`
	IncludeState bool            `json:"include_state"`
	Groupings    struct {
		GroupBy []struct {
			Key string `json:"key"`
		} `json:"group_by"`
	} `json:"groupings"`
}

// searchFilter is the criteria's RoomEventFilter, with the product's time
// range (docs/api-extensions.md, "Search by time range").
type searchFilter struct {
	roomEventFilter
	Limit  *int   `json:"limit"`
	FromTS *int64 `json:"im.myelin.from_ts"`
	ToTS   *int64 `json:"im.myelin.to_ts"`
}

type contextRequest struct {
	BeforeLimit    *int `json:"before_limit"`
	AfterLimit     *int `json:"after_limit"`
	IncludeProfile bool `json:"include_profile"`
}

func (rt *Routes) search(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	var req searchRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.SearchCategories == nil {
		return httputil.MissingParam("Missing search_categories")
	}
	crit := req.SearchCategories.RoomEvents
	if crit == nil {
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"search_categories": map[string]any{}})
		return nil
	}
	if err := crit.check(); err != nil {
		return err
	}
	cursor, err := parseSearchBatch(r.URL.Query().Get("next_batch"))
	if err != nil {
		return err
	}
	res, err := rt.runSearch(r, dev, crit, cursor)
	if err != nil {
		return err
	}
	body, err := rt.searchResponse(r.Context(), crit, res, dev)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"search_categories": map[string]any{"room_events": body}})
	return nil
}

// check validates the criteria (spec: the enums of keys, order_by and
// group_by) and fills the defaults.
func (c *roomEventsCriteria) check() error {
	if c.SearchTerm == nil {
		return httputil.MissingParam("Missing search_term")
	}
	if len(*c.SearchTerm) > maxSearchTermLength {
		return httputil.InvalidParam("search_term is longer than %d bytes", maxSearchTermLength)
	}
	for _, k := range c.Keys {
		if k != search.KeyBody && k != search.KeyName && k != search.KeyTopic {
			return httputil.InvalidParam("Unknown key %q: keys are content.body, content.name and content.topic", k)
		}
	}
	switch c.OrderBy {
	case "":
		c.OrderBy = "rank"
	case "rank", "recent":
	default:
		return httputil.InvalidParam("order_by must be rank or recent")
	}
	for _, g := range c.Groupings.GroupBy {
		if g.Key != "room_id" && g.Key != "sender" {
			return httputil.InvalidParam("Unknown group key %q: room_id or sender", g.Key)
		}
	}
	return c.checkLimits()
}

func (c *roomEventsCriteria) checkLimits() error {
	if c.Filter.Limit == nil {
		n := defaultSearchLimit
		c.Filter.Limit = &n
	}
	if *c.Filter.Limit < 1 {
		return httputil.InvalidParam("filter.limit must be at least 1")
	}
	*c.Filter.Limit = min(*c.Filter.Limit, maxSearchLimit)
	if ec := c.EventContext; ec != nil {
		for _, side := range []**int{&ec.BeforeLimit, &ec.AfterLimit} {
			if *side == nil {
				n := defaultContextSide
				*side = &n
			}
			if **side < 0 {
				return httputil.InvalidParam("event_context limits must not be negative")
			}
			**side = min(**side, maxContextSide)
		}
	}
	return nil
}

// searchBatch is what a next_batch token holds: the backend's cursor, or
// the end of a result set whose last page was full (the spec's pagination
// as Synapse serves it: a full page always has a next_batch, and the page
// after the last is empty, without one).
type searchBatch struct {
	Backend string `json:"b,omitempty"`
	End     bool   `json:"e,omitempty"`
}

func parseSearchBatch(tok string) (searchBatch, error) {
	var b searchBatch
	if tok == "" {
		return b, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || json.Unmarshal(raw, &b) != nil || (b.Backend == "" && !b.End) {
		return b, httputil.InvalidParam("Invalid next_batch")
	}
	return b, nil
}

func (b searchBatch) token() string {
	raw, _ := json.Marshal(b)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// errBadBatch maps a backend's refusal of a cursor.
func errBadBatch(err error) error {
	if errors.Is(err, search.ErrBadCursor) {
		return httputil.InvalidParam("Invalid next_batch")
	}
	return err
}
