package routing_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/syncapi"
	"github.com/myelin-im/myelin/syncapi/search"
	"github.com/myelin-im/myelin/syncapi/search/sqlsearch"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// TestPurgeByTimestamp: purging a room's history up to now (the purge
// history admin API's purge_up_to_ts, local events included) strips the
// messages in the roomserver, where their rows stay for the DAG, and the
// sync component stops serving them anywhere: /messages, /context, /sync
// and search. State is kept, the latest event (a forward extremity) too,
// and the room goes on: a new message is sent and synced.
func TestPurgeByTimestamp(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		b, err := sqlsearch.New(context.Background(), db, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnvOn(t, db, syncapi.WithSearch(b, "sql", nil))
		ctx := context.Background()
		waitIndexed(t, b, e.room, "one", 1)
		if got := searchBodies(t, e, e.alice, "one"); !slices.Equal(got, []string{"one"}) {
			t.Fatalf("before the purge, search finds %q", got)
		}
		purge(t, e, roomapi.PurgeHistoryRequest{RoomID: e.room, UpToTS: time.Now().Add(time.Second).UnixMilli(),
			DeleteLocalEvents: true}, 3)
		waitPurged(t, e, e.msgs[0])

		for _, id := range e.msgs {
			ev, err := e.Rooms.Event(ctx, id)
			if err != nil {
				t.Fatalf("the roomserver lost %s: %v", id, err)
			}
			if ce, err := ev.Client(); err != nil || string(ce.Content) != "{}" {
				t.Fatalf("%s keeps content %s (%v)", id, ce.Content, err)
			}
			if _, err := e.sync.Store.EventByID(ctx, id); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("the sync stream still has %s: %v", id, err)
			}
		}
		res := e.Do(t, http.MethodGet, roomPath(e.room, "messages?dir=b&limit=100"), e.alice.Token, nil)
		res.Want(t, http.StatusOK)
		chunk := decodeMessages(t, res).Chunk
		if got := bodies(chunk); !slices.Equal(got, []string{"after dave left"}) {
			t.Fatalf("/messages bodies %q, want only the latest", got)
		}
		if !hasType(chunk, "m.room.create") || !hasType(chunk, "m.room.member") {
			t.Fatalf("/messages lost state events: %+v", chunk)
		}
		e.Do(t, http.MethodGet, roomPath(e.room, "context/"+url.PathEscape(e.msgs[1])), e.alice.Token, nil).
			Want(t, http.StatusNotFound, "M_NOT_FOUND")
		e.Do(t, http.MethodGet, roomPath(e.room, "event/"+url.PathEscape(e.msgs[1])), e.alice.Token, nil).
			Want(t, http.StatusNotFound, "M_NOT_FOUND")
		// Gone from the index itself, not only from what /search shows.
		waitIndexed(t, b, e.room, "one", 0)
		if got := searchBodies(t, e, e.alice, "one"); len(got) != 0 {
			t.Fatalf("search still finds %q", got)
		}
		if got := searchBodies(t, e, e.alice, "after"); !slices.Equal(got, []string{"after dave left"}) {
			t.Fatalf("search for the kept message finds %q", got)
		}

		full := url.QueryEscape(`{"room":{"timeline":{"limit":100}}}`)
		first := doSync(t, e.Fixture, e.alice, "filter="+full)
		if got := bodies(first.Rooms.Join[e.room].Timeline.Events); !slices.Equal(got, []string{"after dave left"}) {
			t.Fatalf("initial /sync timeline bodies %q", got)
		}
		next := e.Send(t, e.alice, e.room, "still talking")
		e.waitStored(t, next)
		inc := doSync(t, e.Fixture, e.alice, "filter="+full+"&since="+url.QueryEscape(first.NextBatch))
		if got := bodies(inc.Rooms.Join[e.room].Timeline.Events); !slices.Equal(got, []string{"still talking"}) {
			t.Fatalf("incremental /sync after the purge: bodies %q", got)
		}
	})
}

// purge runs a purge and waits for the roomserver to finish it, checking
// how many events it purged.
func purge(t *testing.T, e *env, req roomapi.PurgeHistoryRequest, want int64) {
	t.Helper()
	ctx := context.Background()
	id, err := e.Rooms.PurgeHistory(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := e.Rooms.PurgeStatus(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != roomapi.PurgeActive {
			if st.Status != roomapi.PurgeComplete || st.Purged != want {
				t.Fatalf("purge ended %+v, want complete with %d purged", st, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the purge did not end within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPurged waits until the sync stream has removed eventID.
func waitPurged(t *testing.T, e *env, eventID string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.sync.Store.EventByID(context.Background(), eventID)
		if errors.Is(err, storage.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sync stream still has %s after 10s (%v)", eventID, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitIndexed waits until the search backend holds want documents
// matching term in roomID.
func waitIndexed(t *testing.T, b search.Backend, roomID, term string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := b.Search(context.Background(), search.Query{Term: term, Limit: 10,
			Rooms: []search.RoomRange{{RoomID: roomID, From: math.MinInt64, To: math.MaxInt64}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the index has %d documents for %q after 10s, want %d", len(res.Hits), term, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasType(evs []clientEvent, typ string) bool {
	return slices.ContainsFunc(evs, func(e clientEvent) bool { return e.Type == typ })
}
