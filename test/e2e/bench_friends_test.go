package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/loadgen"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/server"
	"github.com/myelin-im/myelin/userapi/api"
)

// BenchmarkFriendsList: GET friends for a user with 2,000 friends (override
// with MYELIN_BENCH_FRIENDS), each with a display name and a signature, on
// SQLite and, when configured, PostgreSQL. The friendships are built in
// process through the user API and the roomserver (a direct room each,
// joined by both), then the list is fetched over HTTP; p50 and p99 of the
// request.
func BenchmarkFriendsList(b *testing.B) {
	n := 2000
	if s := os.Getenv("MYELIN_BENCH_FRIENDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	benchDatabases(b, func(b *testing.B, dbURL string) {
		srv := benchServer(b, func(c *config.Config) { c.Global.Database.URL = dbURL })
		resp := benchPost(b, srv.ClientURL()+"/_matrix/client/v3/register",
			`{"username":"me","password":"benchmark-password","auth":{"type":"m.login.dummy"}}`)
		token, me := resp["access_token"].(string), resp["user_id"].(string)
		start := time.Now()
		buildFriends(b, srv, me, n)
		b.Logf("%d friends built in %s", n, time.Since(start).Round(time.Millisecond))
		waitForSyncStream(b, srv)
		url := srv.ClientURL() + "/_matrix/client/unstable/im.myelin/friends"
		if got := len(getFriends(b, url, token)); got != n {
			b.Fatalf("GET friends lists %d friends; want %d", got, n)
		}
		lat := make(loadgen.Latencies, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			getFriends(b, url, token)
			lat = append(lat, time.Since(t0))
		}
		b.ReportMetric(float64(lat.Quantile(0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat.Quantile(0.99).Microseconds())/1000, "p99-ms")
	})
}

// buildFriends makes n local users, each with a profile, and a direct room
// between each and me that both joined.
func buildFriends(b *testing.B, srv *server.Server, me string, n int) {
	ctx := context.Background()
	_, server, _ := strings.Cut(me, ":")
	for i := 0; i < n; i++ {
		lp := api.Localpart(fmt.Sprintf("friend%05d", i))
		acc := api.CreateAccountRequest{Localpart: lp, DisplayName: "Friend " + string(lp)}
		if _, err := srv.UserAPI.CreateAccount(ctx, acc); err != nil {
			b.Fatal(err)
		}
		sig, _ := json.Marshal("签名 " + string(lp))
		if err := srv.UserAPI.SetProfileField(ctx, lp, "im.myelin.signature", sig); err != nil {
			b.Fatal(err)
		}
		friend := "@" + string(lp) + ":" + server
		room, err := srv.Roomserver.CreateRoom(ctx, roomapi.CreateRoomRequest{
			Creator: me, Preset: "trusted_private_chat", IsDirect: true, Invite: []string{friend},
		})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := srv.Roomserver.PerformMembership(ctx, roomapi.MembershipRequest{
			RoomID: room, Sender: friend, Target: friend, Membership: "join",
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func getFriends(b *testing.B, url, token string) []json.RawMessage {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = r.Body.Close() }()
	body, _ := io.ReadAll(r.Body)
	var out struct {
		Friends []json.RawMessage `json:"friends"`
	}
	if r.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil {
		b.Fatalf("GET friends: %d %s", r.StatusCode, body)
	}
	return out.Friends
}

// waitForSyncStream waits until the sync component has stored every event
// the build made (its stream stops growing), so the measured requests do
// not compete with it.
func waitForSyncStream(b *testing.B, srv *server.Server) {
	last := int64(-1)
	for {
		pos, err := srv.SyncAPI.Store.MaxPos(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if pos == last {
			return
		}
		last = pos
		time.Sleep(time.Second)
	}
}
