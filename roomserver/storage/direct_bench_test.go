package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// BenchmarkTwoPersonRooms: the friends query for a user in 2,000 direct
// rooms and 20 group rooms of 200 members.
func BenchmarkTwoPersonRooms(b *testing.B) {
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		b.Run(string(d), func(b *testing.B) { benchTwoPersonRooms(b, sqltest.Open(b, d)) })
	}
}

func benchTwoPersonRooms(b *testing.B, db *sqlutil.DB) {
	{
		ctx := context.Background()
		s, err := storage.New(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		f := &directFixture{t: b, s: s}
		const me = "@me:x"
		func() {
			for i := 0; i < 2000; i++ {
				id := fmt.Sprintf("!dm%d:x", i)
				room := insertRoom(b, s, id)
				other := fmt.Sprintf("@f%d:x", i)
				f.member(room, me, "join", int64(i), `{"membership":"join"}`)
				f.member(room, other, "join", int64(i+1), `{"membership":"join","displayname":"F"}`)
				f.invite(id, other, me, "", "", int64(i))
			}
			for g := 0; g < 20; g++ {
				id := fmt.Sprintf("!group%d:x", g)
				room := insertRoom(b, s, id)
				f.member(room, me, "join", 1, `{"membership":"join"}`)
				for m := 0; m < 200; m++ {
					f.member(room, fmt.Sprintf("@m%d:x", m), "join", 1, `{"membership":"join"}`)
				}
			}
		}()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			rows, err := s.TwoPersonRooms(ctx, me, "x")
			if err != nil || len(rows) != 2000 {
				b.Fatalf("%d rows, %v", len(rows), err)
			}
		}
	}
}
