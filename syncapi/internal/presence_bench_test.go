package internal

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// presenceBench is the presence service on a real SQLite database and
// durable bus, with 10,000 users sharing one room and present.
func presenceBench(b *testing.B) (*Presence, []string) {
	b.Helper()
	ctx := context.Background()
	db := sqltest.Open(b, sqlutil.SQLite)
	store, err := storage.New(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	bs, err := bus.NewDurable(ctx, db, bus.Options{}, logrus.New(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bs.Close() })
	const users = 10_000
	ids := make([]string, users)
	rows := make([]MemberRow, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("@u%d:x", i)
		rows[i] = MemberRow{RoomID: "!big:x", UserID: ids[i], Membership: "join", Pos: 1}
	}
	p, err := NewPresence(ctx, true, store, bs, NewNotifier(1, rows), time.Now, logrus.New())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	err = store.WithTx(ctx, func(ctx context.Context) error {
		for _, id := range ids {
			if _, err := store.SetPresence(ctx, storage.Presence{UserID: id, Presence: api.PresenceOnline,
				LastActiveTS: now.UnixMilli(), CurrentlyActive: true, Local: true}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return p, ids
}

// BenchmarkPresenceInitialSync10k: what an initial /sync of a member of a
// room of 10,000 present users spends on presence (routing.addPresence):
// the peers, every present user's row, the m.presence events.
func BenchmarkPresenceInitialSync10k(b *testing.B) {
	p, ids := presenceBench(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		peers := p.notifier.Peers(ids[0])
		rows, err := p.store.PresentUsers(ctx)
		if err != nil || len(rows) != len(ids) {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
		for _, r := range rows {
			if _, ok := peers[r.UserID]; ok {
				_ = p.Event(r)
			}
		}
	}
}

// BenchmarkPresenceChange10k: one local user's visible change (a store,
// a publish in its transaction) and the wake-up of the 10,000 users
// sharing the room.
func BenchmarkPresenceChange10k(b *testing.B) {
	p, ids := presenceBench(b)
	ctx := context.Background()
	states := []string{api.PresenceUnavailable, api.PresenceOnline}
	b.ResetTimer()
	for i := range b.N {
		st := PresenceState{Presence: states[i%2], LastActive: time.Now()}
		if err := p.writeLocal(ctx, ids[0], st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPresenceWokenMember10k: what each of the 10,000 members woken
// by one change spends on presence in its incremental /sync
// (routing.addPresence): the changes after its token, each checked
// against the rooms it shares.
func BenchmarkPresenceWokenMember10k(b *testing.B) {
	p, ids := presenceBench(b)
	ctx := context.Background()
	if err := p.writeLocal(ctx, ids[0], PresenceState{Presence: api.PresenceUnavailable, LastActive: time.Now()}); err != nil {
		b.Fatal(err)
	}
	upto := p.Pos()
	b.ResetTimer()
	for i := range b.N {
		rows, err := p.store.PresenceSince(ctx, upto-1, upto)
		if err != nil || len(rows) != 1 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
		if !p.notifier.SharesRoom(ids[i%len(ids)], rows[0].UserID) {
			b.Fatal("members of one room share no room")
		}
		_ = p.Event(rows[0])
	}
}
