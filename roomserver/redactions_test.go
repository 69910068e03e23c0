package roomserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/signingkey"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver"
	"github.com/myelin-im/myelin/roomserver/api"
)

func TestPruneEvery(t *testing.T) {
	for _, tc := range []struct{ retention, want time.Duration }{
		{time.Millisecond, time.Second},
		{time.Minute, 15 * time.Second},
		{7 * 24 * time.Hour, time.Hour},
	} {
		if got := roomserver.PruneEvery(tc.retention); got != tc.want {
			t.Errorf("PruneEvery(%s) = %s, want %s", tc.retention, got, tc.want)
		}
	}
}

// TestRedactionPruner: the pruner started beside a roomserver removes an
// original once its retention has passed.
func TestRedactionPruner(t *testing.T) {
	ctx := context.Background()
	db := sqltest.Open(t, sqlutil.SQLite)
	log := logrus.New()
	log.SetOutput(io.Discard)
	b, err := bus.NewDurable(ctx, db, bus.Options{}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	rs, err := roomserver.New(ctx, "test.local", &signingkey.Key{ID: "ed25519:t", Private: priv}, db, b, log, nil,
		roomserver.WithRedactionRetention(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	roomID, err := rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: "@a:test.local", Preset: "private_chat"})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: "@a:test.local", Type: "m.room.message",
		Content: json.RawMessage(`{"body":"gone soon"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Redact(ctx, api.RedactRequest{RoomID: roomID, Sender: "@a:test.local", EventID: msg}); err != nil {
		t.Fatal(err)
	}
	kept := func() int {
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM roomserver_redacted_originals`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if kept() != 1 {
		t.Fatal("the original was not kept")
	}
	p := roomserver.StartRedactionPruner(rs, 10*time.Millisecond, log)
	defer func() { _ = p.Close() }()
	for deadline := time.Now().Add(10 * time.Second); kept() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the pruner did not remove the original")
		}
	}
}
