package storage_test

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// maxChain mirrors storage.maxChain: the number of delta snapshots allowed
// between two whole ones.
const maxChain = 32

type stateMap map[storage.StateKey]storage.EventNID

func key(typ, stateKey string) storage.StateKey {
	return storage.StateKey{Type: typ, StateKey: stateKey}
}

func se(typ, stateKey string, nid storage.EventNID) storage.StateEntry {
	return storage.StateEntry{StateKey: key(typ, stateKey), EventNID: nid}
}

// checkState asserts that StateAt(snap) is exactly want, with no key twice.
func checkState(t *testing.T, s *storage.Storage, snap storage.SnapshotNID, want stateMap) {
	t.Helper()
	got, err := s.StateAt(context.Background(), snap)
	if err != nil {
		t.Fatalf("StateAt(%d): %v", snap, err)
	}
	m := stateMap{}
	for _, e := range got {
		if _, dup := m[e.StateKey]; dup {
			t.Fatalf("StateAt(%d) holds %+v twice: %+v", snap, e.StateKey, got)
		}
		m[e.StateKey] = e.EventNID
	}
	if !maps.Equal(m, want) {
		t.Fatalf("StateAt(%d) =\n%v\nwant\n%v", snap, m, want)
	}
}

func TestSnapshots(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		room := insertRoom(t, s, "!r:x")

		if st, err := s.StateAt(ctx, 0); err != nil || len(st) != 0 {
			t.Fatalf("StateAt(0) = %+v, %v; want empty", st, err)
		}

		const (
			create = "m.room.create"
			power  = "m.room.power_levels"
			member = "m.room.member"
			topic  = "m.room.topic"
			name   = "m.room.name"
		)
		steps := []struct {
			name    string
			parent  string // "": the empty state
			changes []storage.StateEntry
			want    stateMap
		}{
			{"root", "", []storage.StateEntry{se(create, "", 1), se(power, "", 2), se(member, "@a:x", 3)},
				stateMap{key(create, ""): 1, key(power, ""): 2, key(member, "@a:x"): 3}},
			{"root with a key twice", "", []storage.StateEntry{se(topic, "", 4), se(name, "", 5), se(topic, "", 6)},
				stateMap{key(topic, ""): 6, key(name, ""): 5}},
			{"empty root", "", nil, stateMap{}},
			{"child of empty root", "empty root", []storage.StateEntry{se(topic, "", 7)}, stateMap{key(topic, ""): 7}},
			{"child overrides and adds", "root", []storage.StateEntry{se(member, "@a:x", 8), se(member, "@b:x", 9)},
				stateMap{key(create, ""): 1, key(power, ""): 2, key(member, "@a:x"): 8, key(member, "@b:x"): 9}},
			{"empty delta", "child overrides and adds", nil,
				stateMap{key(create, ""): 1, key(power, ""): 2, key(member, "@a:x"): 8, key(member, "@b:x"): 9}},
			{"delta with a key twice", "empty delta", []storage.StateEntry{se(power, "", 10), se(member, "@c:x", 11), se(power, "", 12)},
				stateMap{key(create, ""): 1, key(power, ""): 12, key(member, "@a:x"): 8, key(member, "@b:x"): 9, key(member, "@c:x"): 11}},
			{"empty and other state keys differ", "root", []storage.StateEntry{se(create, "x", 13), se(member, "", 14)},
				stateMap{key(create, ""): 1, key(create, "x"): 13, key(power, ""): 2, key(member, "@a:x"): 3, key(member, ""): 14}},
			// Two branches of the same parent touching the same key.
			{"branch A", "child overrides and adds", []storage.StateEntry{se(topic, "", 15)},
				stateMap{key(create, ""): 1, key(power, ""): 2, key(member, "@a:x"): 8, key(member, "@b:x"): 9, key(topic, ""): 15}},
			{"branch B", "child overrides and adds", []storage.StateEntry{se(topic, "", 16), se(member, "@a:x", 17)},
				stateMap{key(create, ""): 1, key(power, ""): 2, key(member, "@a:x"): 17, key(member, "@b:x"): 9, key(topic, ""): 16}},
			{"grandchild of A", "branch A", []storage.StateEntry{se(member, "@b:x", 18)},
				stateMap{key(create, ""): 1, key(power, ""): 2, key(member, "@a:x"): 8, key(member, "@b:x"): 18, key(topic, ""): 15}},
		}
		snaps := map[string]storage.SnapshotNID{}
		for _, st := range steps {
			var parent storage.SnapshotNID
			if st.parent != "" {
				parent = snaps[st.parent]
			}
			snap, err := s.CreateSnapshot(ctx, room, parent, st.changes)
			if err != nil || snap == 0 {
				t.Fatalf("%s: CreateSnapshot = %d, %v", st.name, snap, err)
			}
			for n, other := range snaps {
				if other == snap {
					t.Fatalf("%s: same snapshot NID %d as %s", st.name, snap, n)
				}
			}
			snaps[st.name] = snap
			checkState(t, s, snap, st.want)
		}
		// Creating children and siblings changed no earlier snapshot.
		for _, st := range steps {
			checkState(t, s, snaps[st.name], st.want)
		}

		if _, err := s.CreateSnapshot(ctx, room, 1_000_000, []storage.StateEntry{se(topic, "", 1)}); err == nil {
			t.Fatal("CreateSnapshot from an unknown parent succeeded")
		}
		if _, err := s.StateAt(ctx, 1_000_000); err == nil {
			t.Fatal("StateAt of an unknown snapshot succeeded")
		}
	})
}

// chainKey is the key the i-th step of a test chain changes: members cycle
// over 40 users, so later steps override earlier ones, with topic and power
// level changes mixed in.
func chainKey(i int) storage.StateKey {
	switch {
	case i%7 == 3:
		return key("m.room.topic", "")
	case i%11 == 5:
		return key("m.room.power_levels", "")
	default:
		return key("m.room.member", fmt.Sprintf("@u%02d:x", i%40))
	}
}

// extend builds n single-change snapshots, each a child of the last, from
// parent (whose state is base), checking each as it goes. It returns the
// snapshots and the state expected at each.
func extend(
	t *testing.T,
	s *storage.Storage,
	room storage.RoomNID,
	parent storage.SnapshotNID,
	base stateMap,
	n int,
	firstEvent storage.EventNID,
) ([]storage.SnapshotNID, []stateMap) {
	t.Helper()
	model := maps.Clone(base)
	var snaps []storage.SnapshotNID
	var models []stateMap
	for i := range n {
		k, nid := chainKey(i), firstEvent+storage.EventNID(i)
		snap, err := s.CreateSnapshot(context.Background(), room, parent, []storage.StateEntry{{StateKey: k, EventNID: nid}})
		if err != nil {
			t.Fatalf("step %d: CreateSnapshot: %v", i, err)
		}
		model[k] = nid
		snaps = append(snaps, snap)
		models = append(models, maps.Clone(model))
		checkState(t, s, snap, model)
		parent = snap
	}
	return snaps, models
}

func TestSnapshotLongChain(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		room := insertRoom(t, s, "!r:x")

		const n = 100
		snaps, models := extend(t, s, room, 0, stateMap{}, n, 1000)

		// Every state along the chain still reads back whole, including
		// around the points where whole snapshots are written.
		for i := range n {
			checkState(t, s, snaps[i], models[i])
		}

		// Storage grows with the changes, not with the size of the state
		// times the number of snapshots: every snapshot holds its one change,
		// plus at most one whole state per maxChain snapshots.
		var rows, naive, maxState int
		for _, m := range models {
			naive += len(m)
			maxState = max(maxState, len(m))
		}
		wholes := (n + maxChain - 1) / maxChain
		bound := n + wholes*maxState
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM roomserver_snapshot_entries`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d snapshot entries for %d snapshots (bound %d; copying the state each time would take %d)", rows, n, bound, naive)
		if bound*4 > naive || bound > n*n/2 {
			t.Fatalf("test is too weak: bound %d vs naive %d", bound, naive)
		}
		if rows < n || rows > bound {
			t.Fatalf("%d snapshot entries, want between %d and %d", rows, n, bound)
		}

		// Branches off the chain, one where the next snapshot is written
		// whole (chain length maxChain-1) and one in the middle of a
		// delta chain, with the same keys changed differently.
		for _, at := range []int{maxChain - 1, 40} {
			parent, base := snaps[at], models[at]
			var branchSnaps [2]storage.SnapshotNID
			var branchModels [2]stateMap
			for b := range 2 {
				k := key("m.room.member", "@u00:x")
				nid := storage.EventNID(5000 + 10*at + b)
				// k twice: the later entry wins, on the whole-snapshot
				// path as well as the delta one.
				snap, err := s.CreateSnapshot(ctx, room, parent, []storage.StateEntry{
					{StateKey: k, EventNID: nid + 100},
					se("m.room.branch", fmt.Sprint(b), nid),
					{StateKey: k, EventNID: nid},
				})
				if err != nil {
					t.Fatal(err)
				}
				m := maps.Clone(base)
				m[k] = nid
				m[key("m.room.branch", fmt.Sprint(b))] = nid
				branchSnaps[b], branchModels[b] = snap, m
			}
			for b := range 2 {
				checkState(t, s, branchSnaps[b], branchModels[b])
			}
			// A long branch crossing whole-snapshot points stays correct.
			// (extend checks each state as it is created.)
			extend(t, s, room, branchSnaps[1], branchModels[1], 2*maxChain+3, storage.EventNID(10000+100*at))
			checkState(t, s, branchSnaps[0], branchModels[0])
			checkState(t, s, parent, base)
		}
		for _, i := range []int{0, 1, maxChain - 1, maxChain, maxChain + 1, 40, 2 * maxChain, 3*maxChain - 1, 3 * maxChain, n - 1} {
			checkState(t, s, snaps[i], models[i])
		}
	})
}
