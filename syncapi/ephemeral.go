package syncapi

import (
	"context"
	"fmt"
	"time"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// newEphemeral builds the typing memory (its stream starting at the
// current unix milliseconds, so positions grow across restarts), the
// receipt stream at its stored position and the unread counts.
func newEphemeral(
	ctx context.Context, store *storage.Storage, n *internal.Notifier, counts *internal.CountsCache, b bus.Bus,
) (*internal.Ephemeral, error) {
	rcPos, err := store.MaxReceiptPos(ctx)
	if err != nil {
		return nil, fmt.Errorf("syncapi: %w", err)
	}
	return &internal.Ephemeral{
		Typing:   internal.NewTyping(time.Now().UnixMilli(), n.WakeRoom),
		Receipts: internal.NewReceiptStream(rcPos),
		Counts:   counts,
		Bus:      b,
	}, nil
}
