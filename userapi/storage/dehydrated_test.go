package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// TestDehydratedDevice: one mark per user, replaced by the next, and gone
// with its device when DeleteDevices deletes it.
func TestDehydratedDevice(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if _, err := s.DehydratedDevice(ctx, "bob"); !errors.Is(err, api.ErrNoDehydratedDevice) {
			t.Fatalf("no dehydrated device yet: %v", err)
		}
		for _, id := range []api.DeviceID{"D1", "D2"} {
			if err := s.UpsertDevice(ctx, "bob", id, nil, 1, "", ""); err != nil {
				t.Fatal(err)
			}
		}
		err := s.WithTx(ctx, func(ctx context.Context) error {
			if err := s.LockDehydratedDevice(ctx, "bob"); err != nil {
				return err
			}
			return s.SetDehydratedDevice(ctx, "bob", "D1", json.RawMessage(`{"algorithm":"a1"}`))
		})
		if err != nil {
			t.Fatal(err)
		}
		wantDehydrated(t, s, "D1", `{"algorithm":"a1"}`)
		if err := s.SetDehydratedDevice(ctx, "bob", "D2", json.RawMessage(`{"algorithm":"a2"}`)); err != nil {
			t.Fatal(err)
		}
		wantDehydrated(t, s, "D2", `{"algorithm":"a2"}`)
		if _, err := s.DehydratedDevice(ctx, "alice"); !errors.Is(err, api.ErrNoDehydratedDevice) {
			t.Fatalf("another user's mark: %v", err)
		}
		if err := s.UnmarkDehydratedDevice(ctx, "bob", "D1"); err != nil {
			t.Fatal(err)
		}
		wantDehydrated(t, s, "D2", `{"algorithm":"a2"}`)
		if err := s.UnmarkDehydratedDevice(ctx, "bob", "D2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DehydratedDevice(ctx, "bob"); !errors.Is(err, api.ErrNoDehydratedDevice) {
			t.Fatalf("unmarked device still dehydrated: %v", err)
		}
		if err := s.SetDehydratedDevice(ctx, "bob", "D2", json.RawMessage(`{"algorithm":"a2"}`)); err != nil {
			t.Fatal(err)
		}

		if err := s.SetDeviceKeys(ctx, "bob", "D2", json.RawMessage(`{"k":1}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.InsertToDevice(ctx, storage.ToDeviceRow{Localpart: "bob", DeviceID: "D2", Sender: "@a:t", Type: "m.t",
			Content: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if _, n, err := s.DeleteDevices(ctx, "bob", []api.DeviceID{"D2"}, ""); err != nil || n != 1 {
			t.Fatalf("deleting D2: %d, %v", n, err)
		}
		if _, err := s.DehydratedDevice(ctx, "bob"); !errors.Is(err, api.ErrNoDehydratedDevice) {
			t.Fatalf("mark outlived its device: %v", err)
		}
		if k, _ := s.DeviceKeys(ctx, "bob", "D2"); k != nil {
			t.Fatalf("keys outlived the device: %s", k)
		}
		if msgs, _, _ := s.ToDeviceSince(ctx, "bob", "D2", 0, 10); len(msgs) != 0 {
			t.Fatalf("inbox outlived the device: %v", msgs)
		}
	})
}

func wantDehydrated(t *testing.T, s *storage.Storage, id api.DeviceID, data string) {
	t.Helper()
	d, err := s.DehydratedDevice(context.Background(), "bob")
	if err != nil || d.DeviceID != id || string(d.DeviceData) != data {
		t.Fatalf("dehydrated device %+v, %v; want %s %s", d, err, id, data)
	}
}
