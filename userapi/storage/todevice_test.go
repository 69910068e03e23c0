package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// sendToDevice stores one message per (localpart, device) in one send, the
// way the user API does, and reports whether txnID was new.
func sendToDevice(t *testing.T, s *storage.Storage, txnID string, to ...[2]string) bool {
	t.Helper()
	fresh := false
	err := s.WithTx(context.Background(), func(ctx context.Context) error {
		var err error
		if fresh, err = s.ClaimToDeviceTxn(ctx, "alice", "PHONE", txnID, 1); err != nil || !fresh {
			return err
		}
		for i, r := range to {
			_, err := s.InsertToDevice(ctx, storage.ToDeviceRow{
				Localpart: api.Localpart(r[0]), DeviceID: api.DeviceID(r[1]),
				Sender: "@alice:test.local", SenderDevice: "PHONE", TxnID: txnID, Type: "m.test",
				Content: json.RawMessage(fmt.Sprintf(`{"txn":%q,"i":%d}`, txnID, i)),
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("send %s: %v", txnID, err)
	}
	return fresh
}

// inbox reads bob's device's messages after since.
func inbox(t *testing.T, s *storage.Storage, device api.DeviceID, since int64, limit int) ([]api.ToDeviceMessage, int64) {
	t.Helper()
	msgs, latest, err := s.ToDeviceSince(context.Background(), "bob", device, since, limit)
	if err != nil {
		t.Fatal(err)
	}
	return msgs, latest
}

func TestToDevice(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if _, err := s.ClaimToDeviceTxn(ctx, "alice", "PHONE", "x", 1); err == nil {
			t.Fatal("claimed a transaction ID outside a transaction")
		}
		for i := range 5 {
			if !sendToDevice(t, s, fmt.Sprint("t", i), [2]string{"bob", "B1"}, [2]string{"bob", "B2"}) {
				t.Fatalf("send %d not fresh", i)
			}
		}
		// A retried transaction stores nothing; another device's same ID does.
		if sendToDevice(t, s, "t0", [2]string{"bob", "B1"}) {
			t.Fatal("retried transaction stored again")
		}
		msgs, latest := inbox(t, s, "B1", 0, 3)
		if len(msgs) != 3 {
			t.Fatalf("first page: %+v latest %d", msgs, latest)
		}
		for i, m := range msgs {
			want := fmt.Sprintf(`{"txn":"t%d","i":0}`, i)
			if string(m.Content) != want || m.Sender != "@alice:test.local" || m.Type != "m.test" {
				t.Fatalf("message %d = %+v, want content %s", i, m, want)
			}
			if i > 0 && m.Pos <= msgs[i-1].Pos {
				t.Fatalf("positions out of order: %+v", msgs)
			}
		}
		rest, latest2 := inbox(t, s, "B1", msgs[2].Pos, 100)
		if len(rest) != 2 || latest2 != rest[1].Pos || latest != latest2 {
			t.Fatalf("second page: %+v latest %d (first said %d)", rest, latest2, latest)
		}
		if none, l := inbox(t, s, "B1", latest2, 100); len(none) != 0 || l != latest2 {
			t.Fatalf("after the end: %+v latest %d", none, l)
		}
		// Acknowledging deletes up to and including the position, on that
		// device only.
		if err := s.AckToDevice(ctx, "bob", "B1", msgs[2].Pos); err != nil {
			t.Fatal(err)
		}
		if left, _ := inbox(t, s, "B1", 0, 100); len(left) != 2 || left[0].Pos != rest[0].Pos {
			t.Fatalf("after ack: %+v", left)
		}
		if b2, _ := inbox(t, s, "B2", 0, 100); len(b2) != 5 {
			t.Fatalf("B2 affected by B1's ack: %d messages", len(b2))
		}
		// Positions are never reused, even once every message is deleted.
		if err := s.AckToDevice(ctx, "bob", "B1", latest2); err != nil {
			t.Fatal(err)
		}
		if err := s.AckToDevice(ctx, "bob", "B2", latest2); err != nil {
			t.Fatal(err)
		}
		sendToDevice(t, s, "t9", [2]string{"bob", "B1"})
		if after, _ := inbox(t, s, "B1", latest2, 100); len(after) != 1 {
			t.Fatalf("message after a full ack not found above the old position: %+v", after)
		}
	})
}
