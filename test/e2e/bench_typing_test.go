package e2e

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/loadgen"
)

// benchUser registers user on the server at url for a benchmark.
func benchUser(b *testing.B, url, user string) *mautrix.Client {
	c, err := mautrix.NewClient(url, "", "")
	if err != nil {
		b.Fatal(err)
	}
	resp, err := c.RegisterDummy(b.Context(), &mautrix.ReqRegister[any]{Username: user, Password: "benchmark-password"})
	if err != nil {
		b.Fatal(err)
	}
	c.UserID, c.AccessToken, c.DeviceID = resp.UserID, resp.AccessToken, resp.DeviceID
	return c
}

// BenchmarkTypingToSync: bob long-polls /sync in a room with alice, who
// starts and stops typing in turn; time from the start of each typing
// request to bob's /sync returning the change (through the bus, the typing
// memory and the notifier), on SQLite in one process.
func BenchmarkTypingToSync(b *testing.B) {
	srv := benchServer(b)
	alice, bob := benchUser(b, srv.ClientURL(), "alice"), benchUser(b, srv.ClientURL(), "bob")
	ctx := b.Context()
	room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bob.JoinRoomByID(ctx, room.RoomID); err != nil {
		b.Fatal(err)
	}
	first, err := bob.SyncRequest(ctx, 0, "", "", false, "")
	if err != nil {
		b.Fatal(err)
	}
	since := first.NextBatch
	lat := make(loadgen.Latencies, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		typing := i%2 == 0
		got := make(chan string, 1)
		errs := make(chan error, 1)
		go func() {
			next, err := waitTyping(ctx, bob, since, room.RoomID, typing)
			if err != nil {
				errs <- err
				return
			}
			got <- next
		}()
		start := time.Now()
		if _, err := alice.UserTyping(ctx, room.RoomID, typing, time.Minute); err != nil {
			b.Fatal(err)
		}
		select {
		case since = <-got:
			lat = append(lat, time.Since(start))
		case err := <-errs:
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(lat.Quantile(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat.Quantile(0.99).Microseconds())/1000, "p99-ms")
}

// waitTyping long-polls as c from since until the room's typing users
// include c's partner (typing) or are empty (not typing); it returns the
// next token.
func waitTyping(ctx context.Context, c *mautrix.Client, since string, room id.RoomID, typing bool) (string, error) {
	for {
		resp, err := c.SyncRequest(ctx, 30000, since, "", false, "")
		if err != nil {
			return "", err
		}
		since = resp.NextBatch
		if users, ok := typingIn(resp, room); ok && (len(users) > 0) == typing {
			return since, nil
		}
	}
}
