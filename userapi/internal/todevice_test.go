package internal

import (
	"context"
	"encoding/json"
	"testing"

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
