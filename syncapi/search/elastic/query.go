package elastic

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/myelin-im/myelin/syncapi/search"
)

// trackTotalHits is how far hits are counted exactly; beyond it Count is an
// estimate (at least this many).
const trackTotalHits = 10000

// maxRangeClauses bounds the visibility clauses of one query (one per
// distinct visible range; the cluster refuses queries of more than about a
// thousand clauses). Past it the query filters by room only, on the union of
// the ranges, and the exact ranges are checked on each hit here.
const maxRangeClauses = 256

// maxLimit bounds one page (the cluster refuses pages beyond
// index.max_result_window, 10,000 by default); a larger Limit gets pages of
// this size, with Next.
const maxLimit = 1000

// maxRounds bounds the requests of one page when hits are checked here.
const maxRounds = 8

// Search runs q: a bool query whose must clauses are the term's clauses and
// whose filters are the visible rooms and ranges and q's filters.
func (b *Backend) Search(ctx context.Context, q search.Query) (*search.Result, error) {
	after, err := decodeCursor(q.After, q.Order)
	if err != nil {
		return nil, err
	}
	clauses := search.ParseQuery(q.Term)
	if len(clauses) == 0 || len(q.Rooms) == 0 {
		return &search.Result{}, nil
	}
	query, accept := buildQuery(q, clauses)
	res, err := b.collect(ctx, q, query, accept, after)
	b.m.request("search", err)
	return res, err
}

// collect pages through the cluster's hits until q.Limit accepted ones.
func (b *Backend) collect(ctx context.Context, q search.Query, query map[string]any,
	accept func(hit) bool, after []any) (*search.Result, error) {
	limit := min(max(q.Limit, 1), maxLimit)
	size := limit + 1 // one more, to know whether there is a next page
	res := &search.Result{Hits: []search.Hit{}}
	seen := map[string]bool{}
	for round := range maxRounds {
		page, err := b.searchOnce(ctx, searchBody(query, q.Order, after, size, round == 0))
		if err != nil {
			return nil, err
		}
		if round == 0 {
			res.Count = page.total
		}
		for i, h := range page.hits {
			after = h.Sort
			if (accept != nil && !accept(h)) || seen[h.Source.EventID] {
				continue
			}
			seen[h.Source.EventID] = true
			res.Hits = append(res.Hits, search.Hit{
				EventID: h.Source.EventID, RoomID: h.Source.RoomID, Pos: h.Source.Pos, Rank: h.Score,
			})
			if len(res.Hits) == limit {
				if i < len(page.hits)-1 || len(page.hits) == size {
					res.Next = encodeCursor(q.Order, after)
				}
				return finish(res), nil
			}
		}
		if len(page.hits) < size {
			return finish(res), nil
		}
	}
	res.Next = encodeCursor(q.Order, after)
	return finish(res), nil
}

func finish(res *search.Result) *search.Result {
	res.Count = max(res.Count, len(res.Hits))
	return res
}

// buildQuery is the query of q, and the check hits must pass here when the
// visibility filter is coarser than q.Rooms (nil when it is exact).
func buildQuery(q search.Query, clauses []search.Clause) (map[string]any, func(hit) bool) {
	var must, filter, mustNot []any
	for _, c := range clauses {
		if c.Char != "" {
			// In filter context: no score, which would depend on the index.
			filter = append(filter, term(fChars, c.Char))
			continue
		}
		must = append(must, map[string]any{"match_phrase": map[string]any{
			fWords: map[string]any{"query": strings.Join(c.Phrase, " ")},
		}})
	}
	vis, accept := visibility(q.Rooms)
	filter = append(filter, vis)
	filter = appendTerms(filter, fKey, q.Keys)
	filter = appendTerms(filter, fSender, q.Senders)
	filter = appendTerms(filter, fType, q.Types)
	mustNot = appendTerms(mustNot, fSender, q.NotSenders)
	mustNot = appendTerms(mustNot, fType, q.NotTypes)
	if q.FromTS != 0 || q.ToTS != 0 {
		r := map[string]any{"format": "epoch_millis"}
		if q.FromTS != 0 {
			r["gte"] = q.FromTS
		}
		if q.ToTS != 0 {
			r["lte"] = q.ToTS
		}
		filter = append(filter, map[string]any{"range": map[string]any{fTS: r}})
	}
	boolQ := map[string]any{"filter": filter}
	if len(must) > 0 {
		boolQ["must"] = must
	}
	if len(mustNot) > 0 {
		boolQ["must_not"] = mustNot
	}
	return map[string]any{"bool": boolQ}, accept
}

func term(field, value string) map[string]any {
	return map[string]any{"term": map[string]any{field: value}}
}

func appendTerms(to []any, field string, values []string) []any {
	if len(values) == 0 {
		return to
	}
	return append(to, map[string]any{"terms": map[string]any{field: values}})
}

func posRange(from, to int64) map[string]any {
	return map[string]any{"range": map[string]any{fPos: map[string]any{"gt": from, "lte": to}}}
}

// visibility is the filter of the rooms and their visible ranges: one
// clause per distinct range, with the rooms that have it; or, past
// maxRangeClauses, the rooms and the union of the ranges, with the check of
// each hit's range.
func visibility(rooms []search.RoomRange) (map[string]any, func(hit) bool) {
	type span struct{ from, to int64 }
	groups := map[span][]string{}
	for _, r := range rooms {
		s := span{r.From, r.To}
		groups[s] = append(groups[s], r.RoomID)
	}
	if len(groups) <= maxRangeClauses {
		spans := make([]span, 0, len(groups))
		for s := range groups {
			spans = append(spans, s)
		}
		slices.SortFunc(spans, func(a, b span) int { return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to)) })
		should := make([]any, 0, len(spans))
		for _, s := range spans {
			should = append(should, map[string]any{"bool": map[string]any{"filter": []any{
				map[string]any{"terms": map[string]any{fRoomID: groups[s]}}, posRange(s.from, s.to),
			}}})
		}
		return map[string]any{"bool": map[string]any{"should": should, "minimum_should_match": 1}}, nil
	}
	ids := make([]string, 0, len(rooms))
	byRoom := map[string][]span{}
	lo, hi := rooms[0].From, rooms[0].To
	for _, r := range rooms {
		ids = append(ids, r.RoomID)
		byRoom[r.RoomID] = append(byRoom[r.RoomID], span{r.From, r.To})
		lo, hi = min(lo, r.From), max(hi, r.To)
	}
	accept := func(h hit) bool {
		for _, s := range byRoom[h.Source.RoomID] {
			if h.Source.Pos > s.from && h.Source.Pos <= s.to {
				return true
			}
		}
		return false
	}
	return map[string]any{"bool": map[string]any{"filter": []any{
		map[string]any{"terms": map[string]any{fRoomID: ids}}, posRange(lo, hi),
	}}}, accept
}

// sortOf is the order of hits: a total order (an event's position and the
// key are unique), so search_after never repeats or skips a hit.
func sortOf(o search.Order) []any {
	tail := []any{map[string]any{fPos: "desc"}, map[string]any{fKey: "asc"}}
	if o == search.ByRank {
		return append([]any{map[string]any{"_score": "desc"}}, tail...)
	}
	return tail
}

func searchBody(query map[string]any, o search.Order, after []any, size int, count bool) map[string]any {
	body := map[string]any{
		"query":   query,
		"sort":    sortOf(o),
		"size":    size,
		"_source": []string{fEventID, fRoomID, fPos},
	}
	if count {
		body["track_total_hits"] = trackTotalHits
	} else {
		body["track_total_hits"] = false
	}
	if after != nil {
		body["search_after"] = after
	}
	return body
}

type hit struct {
	ID     string  `json:"_id"`
	Score  float64 `json:"_score"`
	Sort   []any   `json:"sort"`
	Source struct {
		EventID string `json:"event_id"`
		RoomID  string `json:"room_id"`
		Pos     int64  `json:"pos"`
	} `json:"_source"`
}

type searchPage struct {
	total int
	hits  []hit
}

type searchResponse struct {
	Hits struct {
		Total *struct {
			Value    int    `json:"value"`
			Relation string `json:"relation"`
		} `json:"total"`
		Hits []hit `json:"hits"`
	} `json:"hits"`
}

// searchOnce runs one search request, retried when the cluster is
// overloaded.
func (b *Backend) searchOnce(ctx context.Context, body map[string]any) (*searchPage, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	attempts := min(b.retry.Attempts, 3)
	for attempt := 1; ; attempt++ {
		page, err := b.searchRequest(ctx, raw)
		if err == nil || attempt >= attempts || !shouldRetry(ctx, err) {
			return page, err
		}
		if werr := b.retry.wait(ctx, attempt); werr != nil {
			return nil, err
		}
	}
}

func (b *Backend) searchRequest(ctx context.Context, raw []byte) (*searchPage, error) {
	res, err := b.es.Search(b.es.Search.WithContext(ctx), b.es.Search.WithIndex(b.index),
		b.es.Search.WithBody(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("elasticsearch search: %w", err)
	}
	defer closeBody(res.Body)
	if err := statusErr(res); err != nil {
		return nil, fmt.Errorf("elasticsearch search: %w", err)
	}
	dec := json.NewDecoder(res.Body)
	dec.UseNumber()
	var sr searchResponse
	if err := dec.Decode(&sr); err != nil {
		return nil, fmt.Errorf("elasticsearch search: decoding the response: %w", err)
	}
	page := &searchPage{hits: sr.Hits.Hits}
	if sr.Hits.Total != nil {
		page.total = sr.Hits.Total.Value
	}
	return page, nil
}

// cursor is Result.Next: the order it was made for and the sort values of
// the last hit served.
type cursor struct {
	Order int   `json:"o"`
	After []any `json:"a"`
}

func encodeCursor(o search.Order, after []any) string {
	raw, _ := json.Marshal(cursor{Order: int(o), After: after})
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decodeCursor checks s is a cursor this backend made for the order o.
func decodeCursor(s string, o search.Order) ([]any, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, search.ErrBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var c cursor
	if dec.Decode(&c) != nil || dec.InputOffset() != int64(len(raw)) || c.Order != int(o) || len(c.After) != len(sortOf(o)) {
		return nil, search.ErrBadCursor
	}
	// The values: [score,] pos, key.
	n := len(c.After)
	if o == search.ByRank {
		if _, ok := c.After[0].(json.Number); !ok {
			return nil, search.ErrBadCursor
		}
	}
	pos, ok := c.After[n-2].(json.Number)
	if !ok {
		return nil, search.ErrBadCursor
	}
	if _, err := pos.Int64(); err != nil {
		return nil, search.ErrBadCursor
	}
	if _, ok := c.After[n-1].(string); !ok {
		return nil, search.ErrBadCursor
	}
	return c.After, nil
}
