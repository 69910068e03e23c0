package sqlsearch

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/syncapi/search"
)

// cursor is the position after the last hit of a page: its rank (ByRank
// only), stream position and event ID, the order's sort key; and the count
// the first page found.
type cursor struct {
	Order search.Order `json:"o"`
	Rank  float64      `json:"r,omitempty"`
	Pos   int64        `json:"p"`
	Event string       `json:"e"`
	Count int          `json:"c"` // the first page's count
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c) // a struct of numbers and a string always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, order search.Order) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, search.ErrBadCursor
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Order != order || c.Event == "" {
		return nil, search.ErrBadCursor
	}
	return &c, nil
}

// slowQuery is how long a search may take before it is logged.
const slowQuery = 2 * time.Second

// builder collects the arguments of one query and names their placeholders.
type builder struct {
	args []any
	sb   strings.Builder
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

func (b *builder) write(parts ...string) {
	for _, p := range parts {
		b.sb.WriteString(p)
	}
}

// Search runs a query: the matching events among the visible ranges of the
// query's rooms, one page in the query's order, and how many match in all.
func (b *Backend) Search(ctx context.Context, q search.Query) (*search.Result, error) {
	var after *cursor
	if q.After != "" {
		c, err := decodeCursor(q.After, q.Order)
		if err != nil {
			return nil, err
		}
		after = c
	}
	clauses := search.ParseQuery(q.Term)
	if len(clauses) == 0 || len(q.Rooms) == 0 {
		return &search.Result{}, nil
	}
	limit := max(q.Limit, 1)
	start := time.Now()
	hits, count, err := b.page(ctx, &q, clauses, after, limit+1)
	if err != nil {
		return nil, fmt.Errorf("sqlsearch: searching: %w", err)
	}
	if d := time.Since(start); d > slowQuery {
		b.log.WithFields(logrus.Fields{"duration": d, "clauses": len(clauses), "rooms": len(q.Rooms), "count": count}).
			Warn("Slow search query")
	}
	res := &search.Result{Count: count}
	if after != nil {
		// Later pages report the first page's count, which the cursor carries.
		res.Count = after.Count
	}
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1]
		c := cursor{Order: q.Order, Pos: last.Pos, Event: last.EventID, Count: res.Count}
		if q.Order == search.ByRank {
			c.Rank = last.Rank
		}
		res.Next = c.encode()
	}
	res.Hits = hits
	return res, nil
}

// page returns up to n hits after the cursor and, on the first page (no
// cursor), how many events match in all, counted in the same pass.
func (b *Backend) page(ctx context.Context, q *search.Query, clauses []search.Clause, after *cursor,
	n int) ([]search.Hit, int, error) {
	var qb builder
	b.matches(&qb, q, clauses)
	qb.write(` SELECT event_id, room_id, stream_pos, rank, `)
	if after == nil {
		qb.write(`COUNT(*) OVER ()`)
	} else {
		qb.write(`0`)
	}
	qb.write(` FROM e`)
	order := ` ORDER BY stream_pos DESC, event_id DESC`
	if q.Order == search.ByRank {
		order = ` ORDER BY rank DESC, stream_pos DESC, event_id DESC`
	}
	if after != nil {
		p, e := qb.arg(after.Pos), qb.arg(after.Event)
		tail := `stream_pos < ` + p + ` OR (stream_pos = ` + p + ` AND event_id < ` + e + `)`
		if q.Order == search.ByRank {
			r := qb.arg(after.Rank)
			tail = `rank < ` + r + ` OR (rank = ` + r + ` AND (` + tail + `))`
		}
		qb.write(` WHERE `, tail)
	}
	qb.write(order, ` LIMIT `, qb.arg(n))
	count := 0
	var hits []search.Hit
	run := func(ctx context.Context) (err error) {
		hits, err = sqlutil.Select(ctx, b.db, func(s sqlutil.Scanner) (search.Hit, error) {
			var h search.Hit
			err := s.Scan(&h.EventID, &h.RoomID, &h.Pos, &h.Rank, &count)
			return h, err
		}, qb.sb.String(), qb.args...)
		return err
	}
	if b.db.Dialect() != sqlutil.Postgres {
		return hits, count, run(ctx)
	}
	// Statements are prepared once; after a few runs PostgreSQL may plan
	// them generically, without the tsquery's selectivity, and read every
	// document of the rooms instead of using the GIN index (10 times
	// slower at 1,000,000 documents). A custom plan per search costs
	// about a millisecond.
	err := b.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := b.db.Exec(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return err
		}
		return run(ctx)
	})
	return hits, count, err
}

// matches writes the common table expressions r (the visible room ranges),
// m (matching documents with their rank) and e (matching events, each once
// with its best rank). The room ranges are one JSON or array argument
// joined against, never SQL text per room.
func (b *Backend) matches(qb *builder, q *search.Query, clauses []search.Clause) {
	if b.db.Dialect() == sqlutil.Postgres {
		rooms, los, his := make([]string, len(q.Rooms)), make([]int64, len(q.Rooms)), make([]int64, len(q.Rooms))
		for i, r := range q.Rooms {
			rooms[i], los[i], his[i] = r.RoomID, r.From, r.To
		}
		qb.write(`WITH r AS (SELECT * FROM unnest(`, qb.arg(pq.Array(rooms)), `::text[], `,
			qb.arg(pq.Array(los)), `::bigint[], `, qb.arg(pq.Array(his)), `::bigint[]) AS r (room_id, lo, hi)), `)
		// The match names the rooms (see tsqueryRooms), so the GIN index
		// finds the term's documents in those rooms only; the rank counts
		// the term alone.
		qb.write(`m AS (SELECT d.event_id, d.room_id, d.stream_pos, ts_rank_cd(d.tsv, `, qb.arg(tsquery(clauses)),
			`::tsquery)::float8 AS rank
			FROM syncapi_search_docs d
			JOIN r ON r.room_id = d.room_id AND d.stream_pos > r.lo AND d.stream_pos <= r.hi
			WHERE d.tsv @@ `, qb.arg(tsqueryRooms(clauses, q.Rooms)), `::tsquery`)
	} else {
		ranges := make([][3]any, len(q.Rooms))
		for i, r := range q.Rooms {
			ranges[i] = [3]any{r.RoomID, r.From, r.To}
		}
		js, _ := json.Marshal(ranges) // strings and integers always marshal
		qb.write(`WITH r AS MATERIALIZED (SELECT json_extract(value, '$[0]') AS room_id, json_extract(value, '$[1]') AS lo,
			json_extract(value, '$[2]') AS hi FROM json_each(`, qb.arg(string(js)), `)), `)
		// bm25 only works in the query that holds the MATCH, so that one is
		// kept apart (materialised) from the joins.
		qb.write(`f AS MATERIALIZED (SELECT rowid AS id, -bm25(syncapi_search_fts, 1, 1, 0) AS rank
			FROM syncapi_search_fts WHERE syncapi_search_fts MATCH `, qb.arg(ftsMatchRooms(clauses, q.Rooms)), `), `)
		qb.write(`m AS (SELECT d.event_id, d.room_id, d.stream_pos, f.rank AS rank
			FROM f JOIN syncapi_search_docs d ON d.id = f.id
			JOIN r ON r.room_id = d.room_id AND d.stream_pos > r.lo AND d.stream_pos <= r.hi
			WHERE TRUE`)
	}
	filters(qb, q)
	qb.write(`), e AS (SELECT event_id, room_id, stream_pos, MAX(rank) AS rank FROM m GROUP BY event_id, room_id, stream_pos)`)
}

// filters writes the query's optional filters, each a fixed condition with
// one argument.
func filters(qb *builder, q *search.Query) {
	list := func(cond string, values []string) {
		if len(values) > 0 {
			qb.write(` AND `, strings.ReplaceAll(cond, "$", qb.arg(sqlutil.List(values))))
		}
	}
	list(`d.search_key = ANY($)`, q.Keys)
	list(`d.sender = ANY($)`, q.Senders)
	list(`NOT (d.sender = ANY($))`, q.NotSenders)
	list(`d.event_type = ANY($)`, q.Types)
	list(`NOT (d.event_type = ANY($))`, q.NotTypes)
	if q.FromTS > 0 {
		qb.write(` AND d.origin_server_ts >= `, qb.arg(q.FromTS))
	}
	if q.ToTS > 0 {
		qb.write(` AND d.origin_server_ts <= `, qb.arg(q.ToTS))
	}
}
