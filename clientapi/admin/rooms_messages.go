package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// GET /_synapse/admin/v1/rooms/{roomId}/messages?from=&to=&dir=&limit=&filter=:
// the room's timeline as an admin sees it, whatever the history
// visibility (Synapse's; the shape of the client's /messages).
func (a *Admin) roomMessages(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	roomID, err := roomParam(r)
	if err != nil {
		return err
	}
	v := r.URL.Query()
	req := roomapi.RoomMessagesRequest{RoomID: roomID, From: v.Get("from"), To: v.Get("to")}
	switch v.Get("dir") {
	case "", "f":
	case "b":
		req.Backwards = true
	default:
		return httputil.InvalidParam("Unknown direction: %q", v.Get("dir"))
	}
	if req.Limit, err = intParam(v.Get("limit"), 10); err != nil {
		return err
	}
	req.Limit = min(max(req.Limit, 1), 1000)
	if f := v.Get("filter"); f != "" {
		if req.Filter, err = parseEventFilter(f); err != nil {
			return err
		}
	}
	page, err := a.d.Rooms.RoomMessages(r.Context(), req)
	if err != nil {
		return notFoundRoom(err)
	}
	resp := map[string]any{"chunk": page.Chunk, "start": page.Start}
	if page.End != "" {
		resp["end"] = page.End
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// eventFilter is the part of a RoomEventFilter (spec: "Filtering") that
// concerns one room's events.
type eventFilter struct {
	Types       *[]string `json:"types"`
	NotTypes    []string  `json:"not_types"`
	Senders     *[]string `json:"senders"`
	NotSenders  []string  `json:"not_senders"`
	ContainsURL *bool     `json:"contains_url"`
}

// parseEventFilter reads a filter query parameter into a predicate.
func parseEventFilter(raw string) (func(roomapi.ClientEvent) bool, error) {
	var f eventFilter
	if err := json.Unmarshal([]byte(raw), &f); err != nil || !strings.HasPrefix(strings.TrimSpace(raw), "{") {
		return nil, httputil.InvalidParam("filter is not a JSON RoomEventFilter")
	}
	return f.keeps, nil
}

// keeps applies the filter's rules (spec: "Filtering": not_ lists win;
// types take a trailing * as a wildcard).
func (f eventFilter) keeps(e roomapi.ClientEvent) bool {
	if slices.Contains(f.NotSenders, e.Sender) || matchesType(f.NotTypes, e.Type) {
		return false
	}
	if f.Senders != nil && !slices.Contains(*f.Senders, e.Sender) {
		return false
	}
	if f.Types != nil && !matchesType(*f.Types, e.Type) {
		return false
	}
	if f.ContainsURL != nil {
		var c struct {
			URL any `json:"url"`
		}
		_ = json.Unmarshal(e.Content, &c)
		if (c.URL != nil) != *f.ContainsURL {
			return false
		}
	}
	return true
}

func matchesType(patterns []string, t string) bool {
	for _, p := range patterns {
		if p == t || (strings.HasSuffix(p, "*") && strings.HasPrefix(t, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}
