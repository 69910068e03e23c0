package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

func open(t testing.TB, db *sqlutil.DB) *storage.Storage {
	t.Helper()
	s, err := storage.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAccounts(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		alice := storage.AccountRow{Localpart: "alice", PasswordHash: "h1", CreatedTS: 5, IsAdmin: true}
		if err := s.InsertAccount(ctx, alice); err != nil {
			t.Fatal(err)
		}
		again := storage.AccountRow{Localpart: "alice", PasswordHash: "h2", CreatedTS: 6}
		if err := s.InsertAccount(ctx, again); !errors.Is(err, api.ErrUserInUse) {
			t.Fatalf("duplicate insert: %v", err)
		}
		a, err := s.Account(ctx, "alice")
		if err != nil || a.PasswordHash != "h1" || !a.IsAdmin || a.Deactivated || a.CreatedTS != 5 {
			t.Fatalf("account = %+v, %v", a, err)
		}
		if _, err := s.Account(ctx, "bob"); !errors.Is(err, api.ErrNoSuchAccount) {
			t.Fatalf("missing account: %v", err)
		}
		if err := s.SetPasswordHash(ctx, "alice", "h3"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPasswordHash(ctx, "bob", "h3"); !errors.Is(err, api.ErrNoSuchAccount) {
			t.Fatalf("password of missing account: %v", err)
		}
		if err := s.SetDeactivated(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		a, _ = s.Account(ctx, "alice")
		if !a.Deactivated || a.PasswordHash != "" {
			t.Fatalf("after deactivation: %+v", a)
		}
		// Migrating again on an existing database changes nothing.
		if _, err := storage.New(ctx, db); err != nil {
			t.Fatal(err)
		}
		if a, _ := s.Account(ctx, "alice"); !a.Deactivated {
			t.Fatal("re-migration lost data")
		}
	})
}

func TestDevicesAndTokens(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		name := "phone"
		for _, id := range []api.DeviceID{"A", "B", "C"} {
			if err := s.UpsertDevice(ctx, "alice", id, &name, 10, "127.0.0.1", "ua"); err != nil {
				t.Fatal(err)
			}
			for i, kind := range []string{"a", "r"} {
				row := storage.TokenRow{Hash: kind + string(id), Localpart: "alice", DeviceID: id, CreatedTS: int64(i)}
				insert := s.InsertAccessToken
				if kind == "r" {
					insert = s.InsertRefreshToken
				}
				if err := insert(ctx, row); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.UpsertDevice(ctx, "bob", "A", nil, 10, "", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertAccessToken(ctx, storage.TokenRow{Hash: "bobA", Localpart: "bob", DeviceID: "A"}); err != nil {
			t.Fatal(err)
		}
		// A nil display name keeps the old one on upsert.
		if err := s.UpsertDevice(ctx, "alice", "A", nil, 20, "10.0.0.1", "ua2"); err != nil {
			t.Fatal(err)
		}
		d, err := s.Device(ctx, "alice", "A")
		if err != nil || d.DisplayName != "phone" || d.LastSeenTS != 20 || d.LastSeenIP != "10.0.0.1" {
			t.Fatalf("device A = %+v, %v", d, err)
		}
		if err := s.TouchDevice(ctx, "alice", "A", 30, "10.0.0.2", "ua3"); err != nil {
			t.Fatal(err)
		}
		if d, err := s.Device(ctx, "alice", "A"); err != nil || d.LastSeenTS != 30 || d.LastSeenIP != "10.0.0.2" {
			t.Fatalf("device A after touch = %+v, %v", d, err)
		}
		if err := s.SetDeviceDisplayName(ctx, "alice", "Z", "x"); !errors.Is(err, api.ErrNoSuchDevice) {
			t.Fatalf("rename missing: %v", err)
		}
		tok, err := s.AccessToken(ctx, "aB")
		if err != nil || tok.DeviceID != "B" || tok.Localpart != "alice" {
			t.Fatalf("token = %+v, %v", tok, err)
		}
		if _, err := s.AccessToken(ctx, "nope"); !errors.Is(err, api.ErrUnknownToken) {
			t.Fatalf("unknown token: %v", err)
		}

		hashes, n, err := s.DeleteDevices(ctx, "alice", []api.DeviceID{"B"}, "")
		if err != nil || !slices.Equal(hashes, []string{"aB"}) || n != 1 {
			t.Fatalf("delete B: %v %d %v", hashes, n, err)
		}
		if _, err := s.RefreshToken(ctx, "rB"); !errors.Is(err, api.ErrUnknownToken) {
			t.Fatal("refresh token of deleted device survives")
		}
		// Every device but A.
		hashes, n, err = s.DeleteDevices(ctx, "alice", nil, "A")
		if err != nil || !slices.Equal(hashes, []string{"aC"}) || n != 1 {
			t.Fatalf("delete all but A: %v %d %v", hashes, n, err)
		}
		ds, err := s.Devices(ctx, "alice")
		if err != nil || len(ds) != 1 || ds[0].ID != "A" {
			t.Fatalf("devices = %+v, %v", ds, err)
		}
		// Bob's device with the same ID is untouched.
		if _, err := s.AccessToken(ctx, "bobA"); err != nil {
			t.Fatalf("bob's token deleted: %v", err)
		}
		if err := s.DeleteRefreshToken(ctx, "rA"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRefreshToken(ctx, "rA"); !errors.Is(err, api.ErrUnknownToken) {
			t.Fatalf("second delete of refresh token: %v", err)
		}
		hashes, err = s.DeleteDeviceTokens(ctx, "alice", "A")
		if err != nil || !slices.Equal(hashes, []string{"aA"}) {
			t.Fatalf("device tokens: %v %v", hashes, err)
		}
	})
}

func TestProfileAndAccountData(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		ok := func(map[string]json.RawMessage) error { return nil }
		if err := s.SetProfileField(ctx, "alice", "displayname", json.RawMessage(`"Alice"`), ok); err != nil {
			t.Fatal(err)
		}
		if err := s.SetProfileField(ctx, "alice", "im.myelin.signature", json.RawMessage(`"你好"`), ok); err != nil {
			t.Fatal(err)
		}
		tooBig := errors.New("too big")
		err := s.SetProfileField(ctx, "alice", "displayname", json.RawMessage(`"Mallory"`), func(f map[string]json.RawMessage) error {
			if len(f) != 2 || string(f["displayname"]) != `"Mallory"` {
				t.Errorf("check saw %v", f)
			}
			return tooBig
		})
		if !errors.Is(err, tooBig) {
			t.Fatalf("check error lost: %v", err)
		}
		p, err := s.ProfileFields(ctx, "alice")
		if err != nil || string(p["displayname"]) != `"Alice"` || string(p["im.myelin.signature"]) != `"你好"` {
			t.Fatalf("profile = %v, %v", p, err)
		}
		if err := s.DeleteProfileField(ctx, "alice", "displayname"); err != nil {
			t.Fatal(err)
		}
		if p, _ := s.ProfileFields(ctx, "alice"); len(p) != 1 {
			t.Fatalf("after delete: %v", p)
		}

		p1, err := s.SetAccountData(ctx, "alice", "", "m.direct", json.RawMessage(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		p2, err := s.SetAccountData(ctx, "alice", "!r:x", "m.tag", json.RawMessage(`{"tags":{}}`))
		if err != nil || p2 <= p1 {
			t.Fatalf("stream positions %d then %d, %v", p1, p2, err)
		}
		p3, _ := s.SetAccountData(ctx, "alice", "", "m.direct", json.RawMessage(`{"a":2}`))
		if p3 <= p2 {
			t.Fatalf("overwrite did not advance the stream: %d after %d", p3, p2)
		}
		// Since p2: only the overwritten m.direct; since 0: the room tag, then it.
		since, latest, err := s.AccountDataSince(ctx, "alice", p2)
		if err != nil || latest != p3 || len(since) != 1 || since[0].Type != "m.direct" || string(since[0].Content) != `{"a":2}` {
			t.Fatalf("account data since %d = %+v, latest %d, %v", p2, since, latest, err)
		}
		all, _, err := s.AccountDataSince(ctx, "alice", 0)
		if err != nil || len(all) != 2 || all[0].Type != "m.tag" || all[0].RoomID != "!r:x" || all[1].Type != "m.direct" {
			t.Fatalf("all account data = %+v, %v", all, err)
		}
		got, err := s.AccountData(ctx, "alice", "", "m.direct")
		if err != nil || string(got) != `{"a":2}` {
			t.Fatalf("account data = %s, %v", got, err)
		}
		if _, err := s.AccountData(ctx, "alice", "!r:x", "m.direct"); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("room/global confusion: %v", err)
		}
		if err := s.DeleteAccountData(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AccountData(ctx, "alice", "", "m.direct"); !errors.Is(err, api.ErrNotFound) {
			t.Fatal("account data survives deletion")
		}
	})
}

func TestRegistrationTokens(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		two := int64(2)
		exp := int64(1000)
		if err := s.InsertRegistrationToken(ctx, "two", &two, nil, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertRegistrationToken(ctx, "expiring", nil, &exp, 1); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := s.UseRegistrationToken(ctx, "two", 10); err != nil {
				t.Fatalf("use %d: %v", i, err)
			}
		}
		if err := s.UseRegistrationToken(ctx, "two", 10); !errors.Is(err, api.ErrBadRegToken) {
			t.Fatalf("third use: %v", err)
		}
		if v, _ := s.RegistrationTokenValid(ctx, "two", 10); v {
			t.Fatal("used-up token valid")
		}
		if v, _ := s.RegistrationTokenValid(ctx, "expiring", 999); !v {
			t.Fatal("token invalid before expiry")
		}
		if v, _ := s.RegistrationTokenValid(ctx, "expiring", 1000); v {
			t.Fatal("token valid at expiry")
		}
		if err := s.UseRegistrationToken(ctx, "nope", 10); !errors.Is(err, api.ErrBadRegToken) {
			t.Fatalf("unknown token used: %v", err)
		}
	})
}
