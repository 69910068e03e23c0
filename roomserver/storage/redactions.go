package storage

import (
	"context"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// Original is the JSON an event had before it was redacted (redaction
// history), kept in roomserver_redacted_originals until pruned.
type Original struct {
	EventNID   EventNID
	RedactedBy string
	// RedactedTS is when this server applied the redaction (ms).
	RedactedTS int64
	JSON       []byte
}

// RedactedOriginals returns the kept originals of the events nids that
// were redacted at or after sinceMs (older ones are past retention even if
// not pruned yet), by event NID.
func (s *Storage) RedactedOriginals(ctx context.Context, nids []EventNID, sinceMs int64) (map[EventNID]Original, error) {
	out := map[EventNID]Original{}
	if len(nids) == 0 {
		return out, nil
	}
	list, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (Original, error) {
		var o Original
		var js string
		err := sc.Scan(&o.EventNID, &o.RedactedBy, &o.RedactedTS, &js)
		o.JSON = []byte(js)
		return o, err
	}, `SELECT event_nid, redacted_by, redacted_ts, event_json FROM roomserver_redacted_originals
		WHERE event_nid = ANY($1) AND redacted_ts >= $2`, sqlutil.List(nids), sinceMs)
	if err != nil {
		return nil, fmt.Errorf("storage: reading redacted originals: %w", err)
	}
	for _, o := range list {
		out[o.EventNID] = o
	}
	return out, nil
}

// PruneRedactedOriginals forgets the originals of events redacted before
// beforeMs and returns how many it removed.
func (s *Storage) PruneRedactedOriginals(ctx context.Context, beforeMs int64) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM roomserver_redacted_originals WHERE redacted_ts < $1`, beforeMs)
	if err != nil {
		return 0, fmt.Errorf("storage: pruning redacted originals: %w", err)
	}
	return res.RowsAffected()
}
