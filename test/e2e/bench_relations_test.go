package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/loadgen"
)

// sendContent sends one m.room.message (or evType) event and returns its ID.
func sendContent(ctx context.Context, c *loadgen.Client, roomID, evType, txn string, content map[string]any) (string, error) {
	var resp struct {
		EventID string `json:"event_id"`
	}
	err := c.Call(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/send/"+evType+"/"+url.PathEscape(txn),
		content, &resp)
	return resp.EventID, err
}

// seedRoom sends 20 messages to a room: five groups of a message and three
// more, which are, withRelations, a thread reply to it, an edit of it and
// a plain message; else three plain messages.
func seedRoom(ctx context.Context, c *loadgen.Client, roomID string, withRelations bool) error {
	text := func(body string) map[string]any { return map[string]any{"msgtype": "m.text", "body": body} }
	for g := 0; g < 5; g++ {
		txn := fmt.Sprintf("%s-%d", roomID, g)
		root, err := sendContent(ctx, c, roomID, "m.room.message", txn+"r", text("root"))
		if err != nil {
			return err
		}
		more := []map[string]any{text("a"), text("b"), text("c")}
		if withRelations {
			more[0]["m.relates_to"] = map[string]any{"rel_type": "m.thread", "event_id": root}
			more[1] = map[string]any{"msgtype": "m.text", "body": "* edited", "m.new_content": text("edited"),
				"m.relates_to": map[string]any{"rel_type": "m.replace", "event_id": root}}
		}
		for i, content := range more {
			if _, err := sendContent(ctx, c, roomID, "m.room.message", fmt.Sprintf("%s-%d", txn, i), content); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkInitialSyncRelations: the initial /sync of a user in 100 rooms
// of 20 messages each, on two servers side by side: one plain, one with a
// thread reply and an edit of every fourth message (each timeline then
// carries five thread roots, each with an m.thread and an m.replace
// bundle). Each iteration syncs once against each, alternately, so both
// see the same machine load; the metrics are their mean times.
func BenchmarkInitialSyncRelations(b *testing.B) {
	var users [2]*loadgen.Client
	var sizes [2]int
	for i, withRelations := range []bool{false, true} {
		srv := benchServer(b)
		ctx := context.Background()
		us, err := loadgen.Register(ctx, srv.ClientURL(), "u", 1, loadgen.NewTransport())
		if err != nil {
			b.Fatal(err)
		}
		for r := 0; r < 100; r++ {
			room, err := loadgen.Room(ctx, us[0], nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := seedRoom(ctx, us[0], room, withRelations); err != nil {
				b.Fatal(err)
			}
		}
		users[i], sizes[i] = us[0], waitInitialSync(b, us[0], withRelations)
	}
	var spent [2]time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, u := range users {
			start := time.Now()
			if _, _, err := initialSync(context.Background(), u); err != nil {
				b.Fatal(err)
			}
			spent[j] += time.Since(start)
		}
	}
	b.ReportMetric(float64(spent[0].Milliseconds())/float64(b.N), "ms/plain-sync")
	b.ReportMetric(float64(spent[1].Milliseconds())/float64(b.N), "ms/bundled-sync")
	b.ReportMetric(float64(sizes[0])/1024, "KiB/plain-sync")
	b.ReportMetric(float64(sizes[1])/1024, "KiB/bundled-sync")
}

// waitInitialSync waits until an initial sync holds all 100 rooms (and,
// withRelations, their bundles) and returns its size.
func waitInitialSync(b *testing.B, u *loadgen.Client, withRelations bool) int {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var raw json.RawMessage
		if err := u.Call(context.Background(), http.MethodGet, "/_matrix/client/v3/sync", nil, &raw); err != nil {
			b.Fatal(err)
		}
		var resp struct {
			Rooms struct {
				Join map[string]json.RawMessage `json:"join"`
			} `json:"rooms"`
		}
		if err := json.Unmarshal(raw, &resp); err != nil {
			b.Fatal(err)
		}
		bundled := strings.Count(string(raw), `"m.thread"`)
		if len(resp.Rooms.Join) == 100 && (!withRelations || bundled >= 100) {
			return len(raw)
		}
		if time.Now().After(deadline) {
			b.Fatalf("initial sync: %d rooms, %d thread bundles", len(resp.Rooms.Join), bundled)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkRelationsPage: /relations of a message with 10,000 reactions:
// the first page of 50, and paging through all of them 1,000 at a time.
func BenchmarkRelationsPage(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	users, err := loadgen.Register(ctx, srv.ClientURL(), "u", 1, loadgen.NewTransport())
	if err != nil {
		b.Fatal(err)
	}
	u := users[0]
	room, err := loadgen.Room(ctx, u, nil)
	if err != nil {
		b.Fatal(err)
	}
	root, err := sendContent(ctx, u, room, "m.room.message", "root", map[string]any{"msgtype": "m.text", "body": "react"})
	if err != nil {
		b.Fatal(err)
	}
	const reactions = 10000
	for i := 0; i < reactions; i++ {
		content := map[string]any{"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": root, "key": fmt.Sprint(i)}}
		if _, err := sendContent(ctx, u, room, "m.reaction", fmt.Sprint(i), content); err != nil {
			b.Fatal(err)
		}
	}
	path := "/_matrix/client/v1/rooms/" + url.PathEscape(room) + "/relations/" + url.PathEscape(root) + "/m.annotation"
	page := func(limit int, from string) (int, string) {
		q := fmt.Sprintf("?limit=%d", limit)
		if from != "" {
			q += "&from=" + url.QueryEscape(from)
		}
		var resp struct {
			Chunk     []json.RawMessage `json:"chunk"`
			NextBatch string            `json:"next_batch"`
		}
		if err := u.Call(ctx, http.MethodGet, path+q, nil, &resp); err != nil {
			b.Fatal(err)
		}
		return len(resp.Chunk), resp.NextBatch
	}
	all := func() int {
		n, from := 0, ""
		for {
			got, next := page(1000, from)
			n += got
			if from = next; from == "" {
				return n
			}
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for all() != reactions {
		if time.Now().After(deadline) {
			b.Fatal("the reactions did not all reach the sync stream")
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Run("first_page_50", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if n, _ := page(50, ""); n != 50 {
				b.Fatalf("page of %d", n)
			}
		}
	})
	b.Run("all_10000_by_1000", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if n := all(); n != reactions {
				b.Fatalf("paged %d", n)
			}
		}
	})
}
