package storage_test

import (
	"context"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/appservice/storage"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

func TestNetworkRooms(t *testing.T) {
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := sqltest.Open(t, d)
			s, err := storage.New(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := storage.New(ctx, db); err != nil {
				t.Fatalf("migrating twice: %v", err)
			}
			steps := []struct {
				room      storage.NetworkRoom
				published bool
			}{
				{storage.NetworkRoom{AppServiceID: "irc", NetworkID: "libera", RoomID: "!b:x"}, true},
				{storage.NetworkRoom{AppServiceID: "irc", NetworkID: "libera", RoomID: "!a:x"}, true},
				{storage.NetworkRoom{AppServiceID: "irc", NetworkID: "libera", RoomID: "!a:x"}, true}, // again
				{storage.NetworkRoom{AppServiceID: "irc", NetworkID: "oftc", RoomID: "!a:x"}, true},
				{storage.NetworkRoom{AppServiceID: "slack", NetworkID: "libera", RoomID: "!c:x"}, true},
				{storage.NetworkRoom{AppServiceID: "irc", NetworkID: "libera", RoomID: "!b:x"}, false},
				{storage.NetworkRoom{AppServiceID: "irc", NetworkID: "libera", RoomID: "!z:x"}, false}, // never there
			}
			for _, st := range steps {
				if err := s.SetPublished(ctx, st.room, st.published); err != nil {
					t.Fatal(err)
				}
			}
			for _, tc := range []struct {
				as, network string
				want        []string
			}{
				{"irc", "libera", []string{"!a:x"}},
				{"irc", "oftc", []string{"!a:x"}},
				{"slack", "libera", []string{"!c:x"}},
				{"slack", "oftc", nil},
				{"", "", []string{"!a:x", "!c:x"}},
			} {
				got, err := s.Rooms(ctx, tc.as, tc.network)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("Rooms(%q, %q) = %v, want %v", tc.as, tc.network, got, tc.want)
				}
			}
		})
	}
}

func TestSenderSince(t *testing.T) {
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			s, err := storage.New(ctx, sqltest.Open(t, d))
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				as        string
				now, want int64
			}{
				{"irc", 100, 100},
				{"irc", 200, 100}, // the first run counts
				{"slack", 300, 300},
			} {
				got, err := s.SenderSince(ctx, tc.as, tc.now)
				if err != nil || got != tc.want {
					t.Fatalf("SenderSince(%s, %d) = %d, %v; want %d", tc.as, tc.now, got, err, tc.want)
				}
			}
		})
	}
}
