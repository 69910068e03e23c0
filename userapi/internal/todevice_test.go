package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
)

// TestSendToDevice covers the routing rules of SendToDevice: "*" is every
// device the recipient has, unknown devices get nothing, other servers'
// users are handed back by server, and a retry stores nothing.
func TestSendToDevice(t *testing.T) {
	u := testAPI(t)
	ctx := context.Background()
	for _, id := range []api.DeviceID{"B1", "B2"} {
		if _, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "bob", DeviceID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "carol", DeviceID: "C1"}); err != nil {
		t.Fatal(err)
	}
	c := json.RawMessage(`{"k":1}`)
	msgs := map[string]map[string]json.RawMessage{
		"@bob:example.org":   {"*": c},
		"@carol:example.org": {"C1": c, "NOPE": c},
		"@dan:example.org":   {"*": c},
		"@eve:remote.test":   {"E1": c},
		"@fay:remote.test":   {"*": c},
		"@gil:other.test":    {"G1": c},
	}
	remote, err := u.SendToDevice(ctx, "@alice:example.org", "A1", "t1", "m.test", msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(remote) != 2 || len(remote["remote.test"]) != 2 || string(remote["other.test"]["@gil:other.test"]["G1"]) != `{"k":1}` {
		t.Fatalf("remote = %v", remote)
	}
	counts := map[string]int{}
	for _, d := range [][2]string{{"bob", "B1"}, {"bob", "B2"}, {"carol", "C1"}, {"carol", "NOPE"}, {"dan", "D1"}} {
		got, _, err := u.ToDeviceSince(ctx, api.Localpart(d[0]), api.DeviceID(d[1]), 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		counts[d[0]+"/"+d[1]] = len(got)
		for _, m := range got {
			if m.Sender != "@alice:example.org" || m.Type != "m.test" || string(m.Content) != `{"k":1}` {
				t.Fatalf("stored %+v", m)
			}
		}
	}
	want := map[string]int{"bob/B1": 1, "bob/B2": 1, "carol/C1": 1, "carol/NOPE": 0, "dan/D1": 0}
	for k, n := range want {
		if counts[k] != n {
			t.Fatalf("messages per device = %v, want %v", counts, want)
		}
	}
	again, err := u.SendToDevice(ctx, "@alice:example.org", "A1", "t1", "m.test", msgs)
	if err != nil || again != nil {
		t.Fatalf("retry: %v, %v", again, err)
	}
	if got, _, _ := u.ToDeviceSince(ctx, "bob", "B1", 0, 10); len(got) != 1 {
		t.Fatalf("retry stored again: %d messages", len(got))
	}
	if _, err := u.SendToDevice(ctx, "@alice:remote.test", "A1", "t2", "m.test", msgs); err == nil {
		t.Fatal("a remote sender was accepted")
	}
}

// TestToDeviceGoesWithDevice: a device's inbox is deleted with the device
// (logout, device deletion, logging out everywhere), and the transaction
// IDs of a deleted sending device are free again for a new device of that
// name; on both databases.
func TestToDeviceGoesWithDevice(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		u := testAPIOn(t, db)
		ctx := context.Background()
		for _, s := range []struct{ local, dev string }{{"alice", "A1"}, {"bob", "B1"}, {"bob", "B2"}, {"bob", "B3"}, {"carol", "B1"}} {
			req := api.NewSessionRequest{Localpart: api.Localpart(s.local), DeviceID: api.DeviceID(s.dev)}
			if _, err := u.NewSession(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		c := json.RawMessage(`{}`)
		send := func(txn string) api.RemoteToDevice {
			t.Helper()
			msgs := map[string]map[string]json.RawMessage{"@bob:example.org": {"*": c}, "@carol:example.org": {"B1": c}}
			r, err := u.SendToDevice(ctx, "@alice:example.org", "A1", txn, "m.test", msgs)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		count := func(l api.Localpart, d api.DeviceID) int {
			t.Helper()
			msgs, _, err := u.ToDeviceSince(ctx, l, d, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			return len(msgs)
		}
		send("t1")
		if err := u.Logout(ctx, "bob", "B1"); err != nil {
			t.Fatal(err)
		}
		if count("bob", "B1") != 0 || count("bob", "B2") != 1 || count("carol", "B1") != 1 {
			t.Fatal("logging B1 out did not delete exactly its inbox")
		}
		if err := u.DeleteDevices(ctx, "bob", []api.DeviceID{"B2"}); err != nil {
			t.Fatal(err)
		}
		if count("bob", "B2") != 0 || count("bob", "B3") != 1 {
			t.Fatal("deleting B2 did not delete exactly its inbox")
		}
		if err := u.LogoutAll(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if count("bob", "B3") != 0 || count("carol", "B1") != 1 {
			t.Fatal("logging out everywhere did not delete exactly bob's inboxes")
		}
		// The sending device goes: its transaction IDs go with it.
		if err := u.Logout(ctx, "alice", "A1"); err != nil {
			t.Fatal(err)
		}
		send("t1")
		if count("carol", "B1") != 2 {
			t.Fatal("transaction ID of a deleted device still taken")
		}
	})
}
