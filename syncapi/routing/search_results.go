package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"

	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// searchResponse renders a page as search_categories.room_events.
func (rt *Routes) searchResponse(
	ctx context.Context, c *roomEventsCriteria, page *searchPage, dev *userapi.Device,
) (map[string]any, error) {
	results := make([]map[string]any, 0, len(page.hits))
	rels := rt.searchBundles(ctx, page.hits, dev)
	for _, h := range page.hits {
		res := map[string]any{
			"rank":   h.rank,
			"result": rt.timelineEventsWith(ctx, h.ev.RoomID, []*storage.Event{h.ev}, dev, rels)[0],
		}
		if c.EventContext != nil {
			sc, err := rt.searchContext(ctx, h, c.EventContext, dev)
			if err != nil {
				return nil, err
			}
			res["context"] = sc
		}
		results = append(results, res)
	}
	body := map[string]any{"count": page.count, "highlights": page.highlights, "results": results}
	if page.next != "" {
		body["next_batch"] = page.next
	}
	if len(c.Groupings.GroupBy) > 0 {
		body["groups"] = searchGroups(c, page.hits)
	}
	if c.IncludeState {
		state, err := rt.searchState(ctx, page.hits, dev)
		if err != nil {
			return nil, err
		}
		body["state"] = state
	}
	return body, nil
}

// searchBundles computes the aggregations of a page's results, one batch
// per room among them (each bounded by what the user may see of it).
func (rt *Routes) searchBundles(ctx context.Context, hits []searchHit, dev *userapi.Device) bundles {
	byRoom := map[string][]*storage.Event{}
	for _, h := range hits {
		byRoom[h.ev.RoomID] = append(byRoom[h.ev.RoomID], h.ev)
	}
	out := bundles{}
	for roomID, evs := range byRoom {
		hi := int64(math.MaxInt64)
		if dev != nil {
			hi = rt.membershipsOf(roomID, dev.UserID).visibleUpTo()
		}
		maps.Copy(out, rt.bundleRelations(ctx, evs, dev, hi))
	}
	return out
}

// searchContext is a result's context (spec: event_context): the events
// just before and after it within what the user may see, tokens to go on
// with /messages (as /context gives them), and, when asked, the senders'
// profiles as of the result.
func (rt *Routes) searchContext(ctx context.Context, h searchHit, ec *contextRequest, dev *userapi.Device) (map[string]any, error) {
	ev, roomID := h.ev, h.ev.RoomID
	var before, after []*storage.Event
	var err error
	if *ec.BeforeLimit > 0 {
		if before, err = rt.store.RoomEvents(ctx, roomID, h.rng.From, ev.Pos-1, *ec.BeforeLimit, true); err != nil {
			return nil, fmt.Errorf("search context: %w", err)
		}
	}
	if *ec.AfterLimit > 0 {
		if after, err = rt.store.RoomEvents(ctx, roomID, ev.Pos, h.rng.To, *ec.AfterLimit, false); err != nil {
			return nil, fmt.Errorf("search context: %w", err)
		}
	}
	start, end := ev.Pos-1, ev.Pos
	if len(before) > 0 {
		start = before[len(before)-1].Pos - 1
	}
	if len(after) > 0 {
		end = after[len(after)-1].Pos
	}
	out := map[string]any{
		"events_before": rt.timelineEvents(ctx, roomID, before, dev),
		"events_after":  rt.timelineEvents(ctx, roomID, after, dev),
		"start":         formatToken(start),
		"end":           formatToken(end),
	}
	if ec.IncludeProfile {
		profiles, err := rt.senderProfiles(ctx, ev, before, after)
		if err != nil {
			return nil, err
		}
		out["profile_info"] = profiles
	}
	return out, nil
}

// senderProfiles are the display names and avatars of the senders of a
// result and its context, from their membership in the room's state at the
// result (spec: "historic profile information").
func (rt *Routes) senderProfiles(ctx context.Context, ev *storage.Event, lists ...[]*storage.Event) (map[string]any, error) {
	state, err := rt.store.StateAt(ctx, ev.RoomID, ev.Pos)
	if err != nil {
		return nil, fmt.Errorf("search profiles: %w", err)
	}
	senders := map[string]bool{ev.Sender: true}
	for _, l := range lists {
		for _, e := range l {
			senders[e.Sender] = true
		}
	}
	out := map[string]any{}
	for _, e := range state {
		if e.Type != "m.room.member" || e.StateKey == nil || !senders[*e.StateKey] {
			continue
		}
		var m struct {
			Content struct {
				DisplayName *string `json:"displayname"`
				AvatarURL   *string `json:"avatar_url"`
			} `json:"content"`
		}
		_ = json.Unmarshal(e.JSON, &m)
		p := map[string]string{}
		if m.Content.DisplayName != nil {
			p["displayname"] = *m.Content.DisplayName
		}
		if m.Content.AvatarURL != nil {
			p["avatar_url"] = *m.Content.AvatarURL
		}
		out[*e.StateKey] = p
	}
	return out, nil
}

// searchGroups partitions the page by room or sender (spec: groupings):
// each value's event IDs in result order, and the value's order among the
// page's. Groups are not paginated on their own: no next_batch in them.
func searchGroups(c *roomEventsCriteria, hits []searchHit) map[string]any {
	groups := map[string]any{}
	for _, g := range c.Groupings.GroupBy {
		byValue := map[string]map[string]any{}
		for _, h := range hits {
			v := h.ev.RoomID
			if g.Key == "sender" {
				v = h.ev.Sender
			}
			entry := byValue[v]
			if entry == nil {
				entry = map[string]any{"order": len(byValue) + 1, "results": []string{}}
				byValue[v] = entry
			}
			entry["results"] = append(entry["results"].([]string), h.ev.ID)
		}
		groups[g.Key] = byValue
	}
	return groups
}

// searchState is the current state of each room of the page (spec:
// include_state).
func (rt *Routes) searchState(ctx context.Context, hits []searchHit, dev *userapi.Device) (map[string]any, error) {
	out := map[string]any{}
	for _, h := range hits {
		if _, done := out[h.ev.RoomID]; done {
			continue
		}
		state, err := rt.store.CurrentState(ctx, h.ev.RoomID)
		if err != nil {
			return nil, fmt.Errorf("search state: %w", err)
		}
		out[h.ev.RoomID] = clientEvents(state, dev)
	}
	return out, nil
}
