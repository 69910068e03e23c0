package internal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

// TestExportRedactionHistory: an export reads a redacted message's
// original while the retention period runs, not after (even before the
// pruner has run), and PruneRedactedOriginals removes it then.
func TestExportRedactionHistory(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		f.rs.now = func() time.Time { return now }
		f.rs.opts.RedactionRetention = 24 * time.Hour
		roomID, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat})
		if err != nil {
			t.Fatal(err)
		}
		msg := sendText(t, f.rs, roomID, alice, "secret 秘密")
		if _, err := f.rs.Redact(ctx, api.RedactRequest{RoomID: roomID, Sender: alice, EventID: msg}); err != nil {
			t.Fatal(err)
		}
		original := func() string {
			t.Helper()
			evs, err := f.rs.ExportEvents(ctx, roomID, api.ExportPosition{}, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.ID == msg {
					if e.RedactedBy == "" || strings.Contains(string(e.PDU), "secret") {
						t.Fatalf("stored form not redacted: %+v", e)
					}
					return string(e.Original)
				}
			}
			t.Fatal("message not exported")
			return ""
		}
		if got := original(); !strings.Contains(got, "secret 秘密") {
			t.Fatalf("original within retention = %q", got)
		}
		if n, err := f.rs.PruneRedactedOriginals(ctx); err != nil || n != 0 {
			t.Fatalf("pruned within retention: %d, %v", n, err)
		}
		now = now.Add(25 * time.Hour)
		if got := original(); got != "" {
			t.Fatalf("original past retention = %q", got)
		}
		if n, err := f.rs.PruneRedactedOriginals(ctx); err != nil || n != 1 {
			t.Fatalf("pruned past retention: %d, %v", n, err)
		}
		if _, err := f.rs.ExportRoomInfo(ctx, "!nope:test.local"); !errors.Is(err, api.ErrRoomNotFound) {
			t.Fatalf("unknown room: %v", err)
		}
		if info, err := f.rs.ExportRoomInfo(ctx, roomID); err != nil || info.Events < 7 {
			t.Fatalf("ExportRoomInfo = %+v, %v", info, err)
		}
	})
}

// TestPruneKeepsForever: with no retention period nothing is pruned.
func TestPruneKeepsForever(t *testing.T) {
	f := newFixture(t, sqltest.Open(t, sqlutil.SQLite))
	ctx := context.Background()
	roomID, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	msg := sendText(t, f.rs, roomID, alice, "kept")
	if _, err := f.rs.Redact(ctx, api.RedactRequest{RoomID: roomID, Sender: alice, EventID: msg}); err != nil {
		t.Fatal(err)
	}
	f.rs.now = func() time.Time { return time.Now().Add(10 * 365 * 24 * time.Hour) }
	if n, err := f.rs.PruneRedactedOriginals(ctx); err != nil || n != 0 {
		t.Fatalf("pruned with no retention: %d, %v", n, err)
	}
}
