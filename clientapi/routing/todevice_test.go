package routing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
	"github.com/myelin-im/myelin/userapi/api"
)

// TestSendToDeviceHandler covers todevice.go: the body's shape, recipients'
// IDs, and that a retried transaction stores nothing new.
func TestSendToDeviceHandler(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	path := func(typ, txn string) string { return "/sendToDevice/" + typ + "/" + txn }
	toBob := func(content string) string {
		return fmt.Sprintf(`{"messages":{%q:{%q:%s}}}`, bob.ID, bob.Device, content)
	}
	inbox := func(want int) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, _ *fixture.Response) {
			t.Helper()
			local := strings.TrimPrefix(strings.Split(bob.ID, ":")[0], "@")
			msgs, _, err := f.Users.ToDeviceSince(context.Background(), api.Localpart(local), api.DeviceID(bob.Device), 0, 100)
			if err != nil || len(msgs) != want {
				t.Fatalf("bob's inbox holds %d messages (%v), want %d", len(msgs), err, want)
			}
		}
	}
	run(t, f, []call{
		{"without token", "PUT", path("m.test", "1"), "", toBob(`{}`), 401, "M_MISSING_TOKEN", nil},
		{"wrong method", "POST", path("m.test", "1"), alice.Token, toBob(`{}`), 405, "M_UNRECOGNIZED", nil},
		{"not JSON", "PUT", path("m.test", "1"), alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"not an object", "PUT", path("m.test", "1"), alice.Token, `[]`, 400, "M_BAD_JSON", nil},
		{"no messages", "PUT", path("m.test", "1"), alice.Token, `{}`, 400, "M_BAD_JSON", nil},
		{"messages not an object", "PUT", path("m.test", "1"), alice.Token, `{"messages":[]}`, 400, "M_BAD_JSON", nil},
		{"devices not an object", "PUT", path("m.test", "1"), alice.Token, `{"messages":{"` + bob.ID + `":"x"}}`, 400, "M_BAD_JSON", nil},
		{"content not an object", "PUT", path("m.test", "1"), alice.Token, toBob(`"hi"`), 400, "M_BAD_JSON", nil},
		{"content null", "PUT", path("m.test", "1"), alice.Token, toBob(`null`), 400, "M_BAD_JSON", nil},
		{"malformed user", "PUT", path("m.test", "1"), alice.Token, `{"messages":{"bob":{"D":{}}}}`, 400, "M_INVALID_PARAM", nil},
		{"user on a bad server", "PUT", path("m.test", "1"), alice.Token, `{"messages":{"@bob:bad server":{"D":{}}}}`,
			400, "M_INVALID_PARAM", nil},
		{"empty device", "PUT", path("m.test", "1"), alice.Token, `{"messages":{"` + bob.ID + `":{"":{}}}}`, 400, "M_INVALID_PARAM", nil},
		{"type too long", "PUT", path(strings.Repeat("t", 256), "1"), alice.Token, toBob(`{}`), 400, "M_INVALID_PARAM", nil},
		{"nothing stored by refusals", "PUT", path("m.test", "0"), alice.Token, `{"messages":{}}`, 200, "", inbox(0)},
		{"send", "PUT", path("m.test", "1"), alice.Token, toBob(`{"k":"v"}`), 200, "", inbox(1)},
		{"retry", "PUT", path("m.test", "1"), alice.Token, toBob(`{"k":"v"}`), 200, "", inbox(1)},
		{"new transaction", "PUT", path("m.test", "2"), alice.Token, toBob(`{"k":"v"}`), 200, "", inbox(2)},
		{"all devices", "PUT", path("m.test", "3"), alice.Token, `{"messages":{"` + bob.ID + `":{"*":{}}}}`, 200, "", inbox(3)},
		{"unknown device", "PUT", path("m.test", "4"), alice.Token, `{"messages":{"` + bob.ID + `":{"NOPE":{}}}}`, 200, "", inbox(3)},
		{"other server's user", "PUT", path("m.test", "5"), alice.Token, `{"messages":{"@x:remote.test":{"D":{}}}}`, 200, "", inbox(3)},
		{"same ID, another sender", "PUT", path("m.test", "1"), bob.Token, toBob(`{}`), 200, "", inbox(4)},
	})
}
