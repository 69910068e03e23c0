package routing_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// countingBackfiller is a Backfiller that has no history to give and
// counts the requests for it.
type countingBackfiller struct{ calls atomic.Int32 }

func (b *countingBackfiller) Backfill(context.Context, string, []string, int) ([]gomatrixserverlib.PDU, error) {
	b.calls.Add(1)
	return nil, nil
}

// TestMessagesNoBackfillPastCreation: a page that reaches a room's
// creation event has the whole history, so /messages asks no other server
// for more, whatever the page's size.
func TestMessagesNoBackfillPastCreation(t *testing.T) {
	b := &countingBackfiller{}
	e := newEnvOn(t, sqltest.Open(t, sqlutil.SQLite), b)
	for _, query := range []string{"dir=b&limit=1000", "dir=b&limit=5&from=s3", "dir=f&limit=1000"} {
		t.Run(query, func(t *testing.T) {
			e.Do(t, http.MethodGet, roomPath(e.room, "messages?"+query), e.bob.Token, nil).Want(t, http.StatusOK)
			if n := b.calls.Load(); n != 0 {
				t.Fatalf("%d backfill requests for a room whose creation this server has", n)
			}
		})
	}
}
