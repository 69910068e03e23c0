package indexer

import (
	"context"
	"fmt"
)

// Purges is the queue of purged events (message retention, the purge
// history admin API) whose documents the backend must lose
// (*storage.Storage implements it).
type Purges interface {
	PendingSearchPurges(ctx context.Context, limit int) ([]string, error)
	DoneSearchPurges(ctx context.Context, eventIDs []string) error
}

// purge deletes the documents of every purged event queued, batch by
// batch, forgetting each batch only once the backend has deleted it (a
// crash repeats the deletion, which is idempotent).
func (r *runner) purge(ctx context.Context) error {
	for {
		ids, err := r.o.Source.PendingSearchPurges(ctx, r.o.Batch)
		if err != nil || len(ids) == 0 {
			return err
		}
		if err := r.o.Backend.Delete(ctx, ids); err != nil {
			return fmt.Errorf("search indexer: deleting %d purged events: %w", len(ids), err)
		}
		r.m.deletes.Add(float64(len(ids)))
		if err := r.o.Source.DoneSearchPurges(ctx, ids); err != nil {
			return err
		}
	}
}
