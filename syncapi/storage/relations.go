package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// Relation is what an event's content["m.relates_to"] says of it (spec:
// client-server API, "Forming relationships between events").
type Relation struct {
	EventID  string
	RoomID   string
	ParentID string
	RelType  string
	Type     string
	Sender   string
	Pos      int64
}

// RelationOf reads the relation of a client-format event; ok is false when
// it has none (no m.relates_to, or one without rel_type or event_id, like a
// plain rich reply, which is not a relationship the index serves).
func RelationOf(js []byte) (parentID, relType string, ok bool) {
	var ev struct {
		Content struct {
			RelatesTo struct {
				RelType string `json:"rel_type"`
				EventID string `json:"event_id"`
			} `json:"m.relates_to"`
		} `json:"content"`
	}
	if json.Unmarshal(js, &ev) != nil {
		return "", "", false
	}
	r := ev.Content.RelatesTo
	return r.EventID, r.RelType, r.EventID != "" && r.RelType != ""
}

// indexRelation records e's relation, if it has one, at position pos (a
// history event moved from the outliers takes its new position).
func (s *Storage) indexRelation(ctx context.Context, e *Event, pos int64) error {
	parent, relType, ok := RelationOf(e.JSON)
	if !ok {
		return nil
	}
	_, err := s.db.Exec(ctx, `INSERT INTO syncapi_relations (event_id, room_id, parent_id, rel_type, event_type, sender, stream_pos)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO UPDATE SET stream_pos = EXCLUDED.stream_pos`,
		e.ID, e.RoomID, parent, relType, e.Type, e.Sender, pos)
	if err != nil {
		return fmt.Errorf("indexing the relation of %s: %w", e.ID, err)
	}
	return nil
}

// forgetRelation drops a redacted event from the index: redaction removes
// its m.relates_to, so it leaves every aggregation and /relations.
func (s *Storage) forgetRelation(ctx context.Context, eventID string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM syncapi_relations WHERE event_id = $1`, eventID); err != nil {
		return fmt.Errorf("forgetting the relation of %s: %w", eventID, err)
	}
	return nil
}

// RelationsQuery selects a page of the events related to some parents.
type RelationsQuery struct {
	// RoomID is the parents' room: an event of another room that claims a
	// relation to them is not their child (spec: relationships are within
	// a room).
	RoomID    string
	Parents   []string
	RelType   string // "": any
	EventType string // "": any
	// Lo < pos <= Hi bounds the children (the user's visible range).
	Lo, Hi int64
	// From is where the page starts: backwards, children at or below it;
	// forwards, above it. To, if HasTo, is where it stops (excluded).
	From      int64
	To        int64
	HasTo     bool
	Backwards bool
	Limit     int
}

// RelatedEvents returns a page of the events related to q.Parents, newest
// first when backwards, else oldest first.
func (s *Storage) RelatedEvents(ctx context.Context, q RelationsQuery) ([]*Event, error) {
	lo, hi := q.Lo, q.Hi
	if q.Backwards {
		hi = min(hi, q.From)
		if q.HasTo {
			lo = max(lo, q.To)
		}
	} else {
		lo = max(lo, q.From)
		if q.HasTo {
			hi = min(hi, q.To)
		}
	}
	order := "ASC"
	if q.Backwards {
		order = "DESC"
	}
	// One parent (the usual case) reads the (parent_id, stream_pos) index in
	// order and stops at the limit; several (recursion) are merged.
	parent, parentArg := `r.parent_id = $1`, any(sqlutil.List(q.Parents))
	if len(q.Parents) == 1 {
		parentArg = q.Parents[0]
	} else {
		parent = `r.parent_id = ANY($1)`
	}
	// order and parent are constants above.
	evs, err := sqlutil.Select(ctx, s.db, scanEvent, `SELECT `+prefixed("e.")+` FROM (SELECT r.event_id, r.stream_pos
		FROM syncapi_relations r WHERE `+parent+` AND ($2 = '' OR r.rel_type = $2) AND ($3 = '' OR r.event_type = $3)
		AND r.stream_pos > $4 AND r.stream_pos <= $5 AND r.room_id = $7 ORDER BY r.stream_pos `+order+` LIMIT $6) p
		JOIN syncapi_events e ON e.event_id = p.event_id ORDER BY p.stream_pos `+order,
		parentArg, q.RelType, q.EventType, lo, hi, q.Limit, q.RoomID)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading relations: %w", err)
	}
	return evs, nil
}

// RelationChildren lists the IDs of the events of roomID related to
// parents (one level of a recursive /relations).
func (s *Storage) RelationChildren(ctx context.Context, roomID string, parents []string) ([]string, error) {
	ids, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, `SELECT event_id FROM syncapi_relations WHERE parent_id = ANY($1) AND room_id = $2`, sqlutil.List(parents), roomID)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading child events: %w", err)
	}
	return ids, nil
}

// RelationSummary sums up one parent's children of one rel_type in one
// room (the caller keeps those of the parent's room).
type RelationSummary struct {
	ParentID string
	RoomID   string
	RelType  string
	Count    int
	// LatestPos is the newest child's position.
	LatestPos int64
	// ByUser: userID sent one of them.
	ByUser bool
}

// RelationSummaries sums up the children of parents at positions up to hi
// by rel_type, in one query: most pages have no related events at all, and
// learn it here.
func (s *Storage) RelationSummaries(ctx context.Context, parents []string, userID string, hi int64) ([]RelationSummary, error) {
	if len(parents) == 0 {
		return nil, nil
	}
	sums, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (RelationSummary, error) {
		var r RelationSummary
		var by int
		err := sc.Scan(&r.ParentID, &r.RoomID, &r.RelType, &r.Count, &r.LatestPos, &by)
		r.ByUser = by > 0
		return r, err
	}, `SELECT parent_id, room_id, rel_type, COUNT(*), MAX(stream_pos), MAX(CASE WHEN sender = $2 THEN 1 ELSE 0 END)
		FROM syncapi_relations WHERE parent_id = ANY($1) AND stream_pos <= $3 GROUP BY parent_id, room_id, rel_type`,
		sqlutil.List(parents), userID, hi)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: summing up relations: %w", err)
	}
	return sums, nil
}

// RelatedOfType returns the children of parents with one rel_type at
// positions up to hi and their events, oldest first.
func (s *Storage) RelatedOfType(ctx context.Context, parents []string, relType string, hi int64) ([]Relation, []*Event, error) {
	var rels []Relation
	evs, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (*Event, error) {
		var r Relation
		var e Event
		var sk *string
		var js string
		err := sc.Scan(&r.ParentID, &e.Pos, &e.ID, &e.RoomID, &e.Type, &e.Sender, &sk, &e.Membership,
			&e.TS, &e.TxnID, &e.DeviceID, &js)
		e.StateKey, e.JSON = sk, []byte(js)
		r.EventID, r.RoomID, r.RelType, r.Type, r.Sender, r.Pos = e.ID, e.RoomID, relType, e.Type, e.Sender, e.Pos
		rels = append(rels, r)
		return &e, err
	}, `SELECT r.parent_id, `+prefixed("e.")+` FROM syncapi_relations r JOIN syncapi_events e ON e.event_id = r.event_id
		WHERE r.parent_id = ANY($1) AND r.rel_type = $2 AND r.stream_pos <= $3 ORDER BY r.stream_pos`, sqlutil.List(parents), relType, hi)
	if err != nil {
		return nil, nil, fmt.Errorf("syncapi storage: reading %s relations: %w", relType, err)
	}
	return rels, evs, nil
}

// EventsByPos returns the timeline events at positions.
func (s *Storage) EventsByPos(ctx context.Context, positions []int64) ([]*Event, error) {
	if len(positions) == 0 {
		return nil, nil
	}
	return sqlutil.Select(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM syncapi_events WHERE stream_pos = ANY($1)`,
		sqlutil.List(positions))
}

// EventsByID returns the events with these IDs (those this server has).
func (s *Storage) EventsByID(ctx context.Context, ids []string) ([]*Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return sqlutil.Select(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM syncapi_events WHERE event_id = ANY($1)`,
		sqlutil.List(ids))
}

// Thread is a thread root and the position of its newest reply.
type Thread struct {
	RootID    string
	LatestPos int64
}

// ThreadsQuery selects a page of a room's threads.
type ThreadsQuery struct {
	RoomID string
	// Participant, if set, keeps the threads they sent the root of or a
	// reply to.
	Participant string
	// Lo < pos <= Hi bounds the replies considered (the visible range);
	// Before bounds the latest reply of a thread on this page.
	Lo, Hi, Before int64
	Limit          int
}

// Threads lists a room's threads by latest reply, newest first.
func (s *Storage) Threads(ctx context.Context, q ThreadsQuery) ([]Thread, error) {
	ts, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (Thread, error) {
		var t Thread
		return t, sc.Scan(&t.RootID, &t.LatestPos)
	}, `SELECT parent_id, MAX(stream_pos) AS latest FROM syncapi_relations
		WHERE room_id = $1 AND rel_type = 'm.thread' AND stream_pos > $2 AND stream_pos <= $3
		AND ($6 = '' OR parent_id IN (SELECT t.parent_id FROM syncapi_relations t
				WHERE t.room_id = $1 AND t.rel_type = 'm.thread' AND t.sender = $6)
			OR parent_id IN (SELECT e.event_id FROM syncapi_events e WHERE e.room_id = $1 AND e.sender = $6))
		GROUP BY parent_id HAVING MAX(stream_pos) <= $4 ORDER BY latest DESC LIMIT $5`,
		q.RoomID, q.Lo, q.Hi, q.Before, q.Limit, q.Participant)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: listing threads: %w", err)
	}
	return ts, nil
}

// prefixed is eventColumns with each column qualified by a table alias.
func prefixed(alias string) string {
	return alias + `stream_pos, ` + alias + `event_id, ` + alias + `room_id, ` + alias + `event_type, ` + alias + `sender, ` +
		alias + `state_key, COALESCE(` + alias + `membership, ''), ` + alias + `origin_server_ts, ` + alias + `txn_id, ` +
		alias + `device_id, ` + alias + `event_json`
}
