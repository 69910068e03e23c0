package routing_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/myelin-im/myelin/clientapi"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// BenchmarkHierarchy walks a space of 500 rooms (issue 18's figure)
// through GET /v1/rooms/{roomId}/hierarchy on SQLite: "page" is the first
// page of 100 rooms, "walk" every page to the end (6 requests, 501 rooms).
//
//	go test -tags goolm -run '^$' -bench BenchmarkHierarchy -benchtime 20x ./clientapi/routing/
func BenchmarkHierarchy(b *testing.B) {
	const n = 500
	f := fixture.New(b)
	clientapi.Setup(f.Router, f.Config, f.Users, f.Rooms, f.Cache, nil, nil, f.Log)
	alice := f.User(b, "alice")
	ctx := context.Background()
	space := f.Room(b, alice, roomapi.CreateRoomRequest{Preset: "public_chat", CreationContent: json.RawMessage(`{"type":"m.space"}`)})
	for range n {
		child := f.Room(b, alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
		if _, err := f.Rooms.SendEvent(ctx, roomapi.SendEventRequest{RoomID: space, Sender: alice.ID, Type: roomapi.MSpaceChild,
			StateKey: &child, Content: json.RawMessage(`{"via":["test.local"]}`)}); err != nil {
			b.Fatal(err)
		}
	}
	page := func(from string) (int, string) {
		q := "?limit=100"
		if from != "" {
			q += "&from=" + url.QueryEscape(from)
		}
		res := f.Do(b, "GET", hierarchyPath(space, q), alice.Token, nil)
		res.Want(b, 200)
		var p hierarchyPage
		res.Decode(b, &p)
		return len(p.Rooms), p.NextBatch
	}
	b.Run("page", func(b *testing.B) {
		for b.Loop() {
			if got, _ := page(""); got != 100 {
				b.Fatalf("%d rooms", got)
			}
		}
	})
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			total, from := page("")
			for from != "" {
				var got int
				got, from = page(from)
				total += got
			}
			if total != n+1 {
				b.Fatalf("%d rooms, want %d", total, n+1)
			}
		}
	})
}
