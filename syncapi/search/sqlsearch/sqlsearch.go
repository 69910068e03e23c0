// Package sqlsearch is the default message search backend (config search.backend
// "sql"): a full-text index in the database of record, FTS5 on SQLite and a
// tsvector with a GIN index on PostgreSQL (docs/decisions.md, "Message search:
// SQL backend"). Both index the text exactly as search.Analyze splits it, so
// they find what search.Match accepts.
package sqlsearch

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/syncapi/search"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Backend is a search.Backend on a sqlutil.DB.
type Backend struct {
	db  *sqlutil.DB
	log logrus.FieldLogger
}

var _ search.Backend = (*Backend)(nil)

// New migrates the backend's tables in db and returns the backend. db stays
// the caller's: Close does not close it.
func New(ctx context.Context, db *sqlutil.DB, log logrus.FieldLogger) (*Backend, error) {
	if log == nil {
		log = logrus.StandardLogger()
	}
	if err := sqlutil.MigrateDir(ctx, db, "syncapi_search", migrations, "migrations"); err != nil {
		return nil, fmt.Errorf("sqlsearch: %w", err)
	}
	return &Backend{db: db, log: log.WithField("component", "search")}, nil
}

// Close releases nothing: the database belongs to the caller.
func (b *Backend) Close() error { return nil }

// Index adds or replaces documents by (event ID, key), in one transaction.
func (b *Backend) Index(ctx context.Context, docs []search.Doc) error {
	if len(docs) == 0 {
		return nil
	}
	err := b.db.WithTx(ctx, func(ctx context.Context) error {
		for i := range docs {
			if err := b.indexOne(ctx, &docs[i]); err != nil {
				return fmt.Errorf("event %s key %s: %w", docs[i].EventID, docs[i].Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlsearch: indexing: %w", err)
	}
	return nil
}

const upsertDocSQL = `INSERT INTO syncapi_search_docs
	(event_id, search_key, room_id, sender, event_type, origin_server_ts, stream_pos%s)
	VALUES ($1, $2, $3, $4, $5, $6, $7%s)
	ON CONFLICT (event_id, search_key) DO UPDATE SET room_id = excluded.room_id, sender = excluded.sender,
		event_type = excluded.event_type, origin_server_ts = excluded.origin_server_ts,
		stream_pos = excluded.stream_pos%s
	RETURNING id`

var (
	upsertDocSQLite   = fmt.Sprintf(upsertDocSQL, "", "", "")
	upsertDocPostgres = fmt.Sprintf(upsertDocSQL, ", tsv", ", $8::tsvector", ", tsv = excluded.tsv")
)

func (b *Backend) indexOne(ctx context.Context, d *search.Doc) error {
	a := search.Analyze(d.Text)
	args := []any{d.EventID, d.Key, d.RoomID, d.Sender, d.Type, d.TS, d.Pos}
	if b.db.Dialect() == sqlutil.Postgres {
		_, err := b.db.Exec(ctx, upsertDocPostgres, append(args, tsvector(a, d.RoomID))...)
		return err
	}
	// FTS5: the old index entry, if any, goes before the new one is written
	// under the same rowid.
	var id int64
	err := b.db.QueryRow(ctx, `SELECT id FROM syncapi_search_docs WHERE event_id = $1 AND search_key = $2`,
		d.EventID, d.Key).Scan(&id)
	switch {
	case err == nil:
		if _, err := b.db.Exec(ctx, `DELETE FROM syncapi_search_fts WHERE rowid = $1`, id); err != nil {
			return err
		}
	case !errors.Is(err, sqlutil.ErrNoRows):
		return err
	}
	if err := b.db.QueryRow(ctx, upsertDocSQLite, args...).Scan(&id); err != nil {
		return err
	}
	_, err = b.db.Exec(ctx, `INSERT INTO syncapi_search_fts (rowid, words, chars, room) VALUES ($1, $2, $3, $4)`,
		id, strings.Join(a.Words, " "), strings.Join(a.Chars, " "), roomToken(d.RoomID))
	return err
}

// Delete removes every key of the events.
func (b *Backend) Delete(ctx context.Context, eventIDs []string) error {
	if len(eventIDs) == 0 {
		return nil
	}
	err := b.db.WithTx(ctx, func(ctx context.Context) error {
		if b.db.Dialect() == sqlutil.SQLite {
			if _, err := b.db.Exec(ctx, `DELETE FROM syncapi_search_fts WHERE rowid IN
				(SELECT id FROM syncapi_search_docs WHERE event_id = ANY($1))`, sqlutil.List(eventIDs)); err != nil {
				return err
			}
		}
		_, err := b.db.Exec(ctx, `DELETE FROM syncapi_search_docs WHERE event_id = ANY($1)`, sqlutil.List(eventIDs))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlsearch: deleting: %w", err)
	}
	return nil
}
