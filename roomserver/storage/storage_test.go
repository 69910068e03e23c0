package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/storage"
)

func open(t *testing.T, db *sqlutil.DB) *storage.Storage {
	t.Helper()
	s, err := storage.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func insertRoom(t testing.TB, s *storage.Storage, id string) storage.RoomNID {
	t.Helper()
	nid, err := s.InsertRoom(context.Background(), id, "10")
	if err != nil {
		t.Fatalf("InsertRoom(%s): %v", id, err)
	}
	return nid
}

func strp(s string) *string { return &s }

func TestRooms(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		a, err := s.InsertRoom(ctx, "!a:example.org", "10")
		if err != nil || a == 0 {
			t.Fatalf("InsertRoom = %d, %v", a, err)
		}
		if _, err := s.InsertRoom(ctx, "!a:example.org", "11"); !errors.Is(err, storage.ErrRoomExists) {
			t.Fatalf("duplicate room: err = %v, want ErrRoomExists", err)
		}
		b, err := s.InsertRoom(ctx, "!b:example.org", "9")
		if err != nil || b == a || b == 0 {
			t.Fatalf("second room = %d (first %d), %v", b, a, err)
		}

		// A new room has the version it was created with (not the one of the
		// rejected duplicate) and an empty head.
		r, err := s.Room(ctx, "!a:example.org")
		if err != nil {
			t.Fatal(err)
		}
		if r.NID != a || r.ID != "!a:example.org" || r.Version != "10" || r.SnapshotNID != 0 || r.Depth != 0 || len(r.Extremities) != 0 {
			t.Fatalf("new room = %+v", r)
		}
		if rb, err := s.RoomByNID(ctx, a); err != nil || !reflect.DeepEqual(rb, r) {
			t.Fatalf("RoomByNID = %+v, %v; want %+v", rb, err, r)
		}
		if _, err := s.Room(ctx, "!nope:example.org"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown room: %v", err)
		}
		for _, nid := range []storage.RoomNID{0, a + b + 100} {
			if _, err := s.RoomByNID(ctx, nid); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("RoomByNID(%d): %v", nid, err)
			}
		}

		heads := []struct {
			name     string
			snapshot storage.SnapshotNID
			ext      []string
			depth    int64
		}{
			{"one extremity", 3, []string{"$one:example.org"}, 1},
			{"many, order kept", 7, []string{"$c:x", "$a:x", "$b:x"}, 42},
			{"awkward characters", 8, []string{`$"quoted"\slash`, "$ünïcødé", "$a,b]"}, 1 << 40},
			{"back to none", 9, []string{}, 43},
		}
		for _, h := range heads {
			if err := s.SetRoomHead(ctx, a, h.snapshot, h.ext, h.depth); err != nil {
				t.Fatalf("%s: SetRoomHead: %v", h.name, err)
			}
			for _, get := range []func() (*storage.Room, error){
				func() (*storage.Room, error) { return s.Room(ctx, "!a:example.org") },
				func() (*storage.Room, error) { return s.RoomByNID(ctx, a) },
			} {
				r, err := get()
				if err != nil {
					t.Fatalf("%s: %v", h.name, err)
				}
				if r.NID != a || r.Version != "10" || r.SnapshotNID != h.snapshot || r.Depth != h.depth ||
					!slices.Equal(r.Extremities, h.ext) {
					t.Fatalf("%s: room = %+v, want snapshot %d depth %d extremities %q", h.name, r, h.snapshot, h.depth, h.ext)
				}
			}
		}
		// The other room's head is untouched.
		if r, err := s.RoomByNID(ctx, b); err != nil || r.ID != "!b:example.org" || r.Version != "9" ||
			r.SnapshotNID != 0 || r.Depth != 0 || len(r.Extremities) != 0 {
			t.Fatalf("other room = %+v, %v", r, err)
		}
	})
}

func TestEvents(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		room := insertRoom(t, s, "!r:example.org")
		events := []*storage.Event{
			{ID: "$create", RoomNID: room, Type: "m.room.create", StateKey: strp(""), Sender: "@alice:example.org",
				Depth: 1, OriginServerTS: 1000, JSON: []byte(`{"type":"m.room.create","state_key":""}`)},
			{ID: "$member", RoomNID: room, Type: "m.room.member", StateKey: strp("@alice:example.org"), Sender: "@alice:example.org",
				Depth: 2, OriginServerTS: 1001, SnapshotBefore: 1, Outlier: true, JSON: []byte(`{"membership":"join"}`)},
			{ID: "$msg", RoomNID: room, Type: "m.room.message", StateKey: nil, Sender: "@bob:example.org",
				Depth: 3, OriginServerTS: 1 << 41, SnapshotBefore: 2, Rejected: true, JSON: []byte(`{"body":"héllo \"wörld\" ✓"}`)},
		}
		nids := map[string]storage.EventNID{}
		for _, e := range events {
			nid, stored, err := s.InsertEvent(ctx, e)
			if err != nil || !stored || nid == 0 {
				t.Fatalf("InsertEvent(%s) = %d, %v, %v", e.ID, nid, stored, err)
			}
			for id, other := range nids {
				if other == nid {
					t.Fatalf("%s and %s share NID %d", e.ID, id, nid)
				}
			}
			nids[e.ID] = nid
		}

		// The same event ID again keeps the first row.
		dup := *events[2]
		dup.Type, dup.Sender, dup.JSON, dup.StateKey = "m.room.topic", "@mallory:example.org", []byte(`{}`), strp("x")
		if nid, stored, err := s.InsertEvent(ctx, &dup); err != nil || stored || nid != nids["$msg"] {
			t.Fatalf("duplicate InsertEvent = %d, %v, %v; want %d, false", nid, stored, err, nids["$msg"])
		}

		for _, e := range events {
			want := *e
			want.NID = nids[e.ID]
			got, err := s.EventByID(ctx, e.ID)
			if err != nil {
				t.Fatalf("EventByID(%s): %v", e.ID, err)
			}
			// DeepEqual follows StateKey: nil only matches nil, and a
			// pointer to "" only matches a pointer to "".
			if !reflect.DeepEqual(got, &want) {
				t.Fatalf("EventByID(%s) =\n%+v (state key %s)\nwant\n%+v (state key %s)",
					e.ID, got, sk(got.StateKey), &want, sk(want.StateKey))
			}
		}
		if _, err := s.EventByID(ctx, "$unknown"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown event: %v", err)
		}

		// Enough events for a list of many.
		var many []string
		for i := range 60 {
			e := &storage.Event{ID: fmt.Sprintf("$bulk%02d", i), RoomNID: room, Type: "m.room.message", Sender: "@bob:example.org",
				Depth: int64(10 + i), JSON: []byte(`{}`)}
			nid, stored, err := s.InsertEvent(ctx, e)
			if err != nil || !stored {
				t.Fatalf("InsertEvent(%s) = %v, %v", e.ID, stored, err)
			}
			nids[e.ID] = nid
			many = append(many, e.ID)
		}
		all := append([]string{"$create", "$member", "$msg"}, many...)

		lists := []struct {
			name string
			ids  []string // "$unknown…" are never stored
			want []string
		}{
			{"nil", nil, nil},
			{"empty", []string{}, nil},
			{"one", []string{"$member"}, []string{"$member"}},
			{"one unknown", []string{"$unknown"}, nil},
			{"some unknown", []string{"$unknown1", "$create", "$unknown2", "$msg"}, []string{"$create", "$msg"}},
			{"repeated", []string{"$msg", "$msg", "$msg"}, []string{"$msg"}},
			{"many", append(slices.Clone(all), "$unknown"), all},
		}
		for _, l := range lists {
			t.Run(l.name, func(t *testing.T) {
				byID, err := s.EventsByID(ctx, l.ids)
				if err != nil {
					t.Fatalf("EventsByID: %v", err)
				}
				checkEventList(t, "EventsByID", byID, l.want, nids)

				var ns []storage.EventNID
				if l.ids != nil {
					ns = []storage.EventNID{}
				}
				for i, id := range l.ids {
					nid, ok := nids[id]
					if !ok {
						nid = storage.EventNID(1_000_000 + i)
					}
					ns = append(ns, nid)
				}
				byNID, err := s.EventsByNID(ctx, ns)
				if err != nil {
					t.Fatalf("EventsByNID: %v", err)
				}
				checkEventList(t, "EventsByNID", byNID, l.want, nids)
			})
		}
		// Full rows come back from the list reads too.
		evs, err := s.EventsByNID(ctx, []storage.EventNID{nids["$create"]})
		if err != nil || len(evs) != 1 || evs[0].StateKey == nil || *evs[0].StateKey != "" ||
			string(evs[0].JSON) != string(events[0].JSON) {
			t.Fatalf("EventsByNID($create) = %+v, %v", evs, err)
		}

		// Redaction replaces the JSON and records the redacter, nothing else.
		redacted := []byte(`{"type":"m.room.message","content":{}}`)
		if err := s.SetRedacted(ctx, "$msg", "$redaction", redacted, 1000); err != nil {
			t.Fatal(err)
		}
		want := *events[2]
		want.NID, want.RedactedBy, want.JSON = nids["$msg"], "$redaction", redacted
		if got, err := s.EventByID(ctx, "$msg"); err != nil || !reflect.DeepEqual(got, &want) {
			t.Fatalf("redacted event = %+v, %v; want %+v", got, err, &want)
		}
		if got, err := s.EventByID(ctx, "$member"); err != nil || got.RedactedBy != "" || string(got.JSON) != string(events[1].JSON) {
			t.Fatalf("other event after redaction = %+v, %v", got, err)
		}
	})
}

func sk(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *p)
}

func checkEventList(t *testing.T, what string, evs []*storage.Event, want []string, nids map[string]storage.EventNID) {
	t.Helper()
	var got []string
	for _, e := range evs {
		if e.NID != nids[e.ID] {
			t.Fatalf("%s: %s has NID %d, want %d", what, e.ID, e.NID, nids[e.ID])
		}
		got = append(got, e.ID)
	}
	sort.Strings(got)
	want = slices.Clone(want)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

func TestTxns(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if _, err := s.TxnEvent(ctx, "@a:x", "DEV", "t1"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown txn: %v", err)
		}
		steps := []struct {
			user, device, txn, event string
			want                     string
		}{
			{"@a:x", "DEV", "t1", "$e1", "$e1"},
			{"@a:x", "DEV", "t1", "$e2", "$e1"}, // retry: the first event wins
			{"@a:x", "DEV", "t1", "$e1", "$e1"},
			{"@a:x", "OTHER", "t1", "$e3", "$e3"}, // another device
			{"@b:x", "DEV", "t1", "$e4", "$e4"},   // another user
			{"@a:x", "DEV", "t2", "$e5", "$e5"},   // another txn
			{"@a:x", "OTHER", "t1", "$e6", "$e3"},
		}
		for i, st := range steps {
			got, err := s.InsertTxn(ctx, st.user, st.device, st.txn, st.event, int64(i))
			if err != nil || got != st.want {
				t.Fatalf("step %d: InsertTxn(%s, %s, %s, %s) = %q, %v; want %q", i, st.user, st.device, st.txn, st.event, got, err, st.want)
			}
			if got, err := s.TxnEvent(ctx, st.user, st.device, st.txn); err != nil || got != st.want {
				t.Fatalf("step %d: TxnEvent = %q, %v; want %q", i, got, err, st.want)
			}
		}
		if _, err := s.TxnEvent(ctx, "@a:x", "DEV", "t3"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown txn: %v", err)
		}
		if _, err := s.TxnEvent(ctx, "@c:x", "DEV", "t1"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown user's txn: %v", err)
		}
	})
}

func TestWithTx(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		bg := context.Background()
		s := open(t, db)
		room := insertRoom(t, s, "!r:example.org")
		ev := &storage.Event{ID: "$tx", RoomNID: room, Type: "m.room.member", StateKey: strp("@a:x"), Sender: "@a:x", JSON: []byte(`{}`)}
		boom := errors.New("boom")

		err := s.WithTx(bg, func(ctx context.Context) error {
			nid, stored, err := s.InsertEvent(ctx, ev)
			if err != nil || !stored {
				t.Errorf("InsertEvent in tx = %v, %v", stored, err)
				return err
			}
			// The transaction sees its own writes; nobody else does yet.
			if got, err := s.EventByID(ctx, "$tx"); err != nil || got.NID != nid {
				t.Errorf("EventByID in tx = %+v, %v", got, err)
			}
			if _, err := s.EventByID(bg, "$tx"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("uncommitted event visible outside the tx: %v", err)
			}
			if _, err := s.InsertTxn(ctx, "@a:x", "DEV", "t1", "$tx", 1); err != nil {
				t.Error(err)
			}
			if err := s.SetMembership(ctx, room, "@a:x", "join", nid); err != nil {
				t.Error(err)
			}
			// CreateSnapshot's own transaction joins this one.
			member := storage.StateKey{Type: "m.room.member", StateKey: "@a:x"}
			snap, err := s.CreateSnapshot(ctx, room, 0, []storage.StateEntry{{StateKey: member, EventNID: nid}})
			if err != nil {
				t.Error(err)
			}
			if err := s.SetRoomHead(ctx, room, snap, []string{"$tx"}, 1); err != nil {
				t.Error(err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithTx = %v, want boom", err)
		}
		if _, err := s.EventByID(bg, "$tx"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("rolled-back event: %v", err)
		}
		if _, err := s.TxnEvent(bg, "@a:x", "DEV", "t1"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("rolled-back txn: %v", err)
		}
		if m, nid, err := s.Membership(bg, room, "@a:x"); err != nil || m != "leave" || nid != 0 {
			t.Fatalf("rolled-back membership = %q, %d, %v", m, nid, err)
		}
		if r, err := s.RoomByNID(bg, room); err != nil || r.SnapshotNID != 0 || len(r.Extremities) != 0 || r.Depth != 0 {
			t.Fatalf("rolled-back room head = %+v, %v", r, err)
		}
		var n int
		if err := db.QueryRow(bg, `SELECT COUNT(*) FROM roomserver_snapshots`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rolled-back snapshots: %d rows, %v", n, err)
		}

		// The same work committed is kept, and the event ID is then taken.
		// A known event ID inside a transaction does not spoil it.
		var nid storage.EventNID
		err = s.WithTx(bg, func(ctx context.Context) error {
			var err error
			var stored bool
			if nid, stored, err = s.InsertEvent(ctx, ev); err != nil || !stored {
				return fmt.Errorf("first insert: %v, %w", stored, err)
			}
			again, stored, err := s.InsertEvent(ctx, ev)
			if err != nil || stored || again != nid {
				return fmt.Errorf("second insert = %d, %v, %w; want %d, false", again, stored, err, nid)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.EventByID(bg, "$tx"); err != nil || got.NID != nid {
			t.Fatalf("committed event = %+v, %v", got, err)
		}
		if again, stored, err := s.InsertEvent(bg, ev); err != nil || stored || again != nid {
			t.Fatalf("InsertEvent after commit = %d, %v, %v; want %d, false", again, stored, err, nid)
		}
	})
}

// Concurrent writers of the same event ID or client transaction all get the
// same answer, and only one of them stores.
func TestConcurrentInserts(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		room := insertRoom(t, s, "!r:example.org")
		const n = 12
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			stored int
			nids   = map[storage.EventNID]bool{}
			txnEvs = map[string]bool{}
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nid, st, err := s.InsertEvent(ctx, &storage.Event{
					ID:      "$same",
					RoomNID: room,
					Type:    "m.room.message",
					Sender:  "@a:x",
					JSON:    []byte(`{}`),
				})
				ev, txnErr := s.InsertTxn(ctx, "@a:x", "DEV", "t1", fmt.Sprintf("$e%d", i), int64(i))
				mu.Lock()
				defer mu.Unlock()
				if err != nil || txnErr != nil {
					t.Errorf("goroutine %d: %v, %v", i, err, txnErr)
				}
				if st {
					stored++
				}
				nids[nid], txnEvs[ev] = true, true
			}()
		}
		wg.Wait()
		if stored != 1 || len(nids) != 1 || len(txnEvs) != 1 {
			t.Fatalf("stored %d times, NIDs %v, txn events %v; want once, one NID, one event", stored, nids, txnEvs)
		}
		for ev := range txnEvs {
			if got, err := s.TxnEvent(ctx, "@a:x", "DEV", "t1"); err != nil || got != ev {
				t.Fatalf("TxnEvent = %q, %v; want %q", got, err, ev)
			}
		}
	})
}
