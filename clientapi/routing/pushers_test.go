package routing_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

const gatewayURL = "https://push.example/_matrix/push/v1/notify"

// pusherBody is a valid POST /pushers/set body for an http pusher, with
// changes applied (a nil value removes the key).
func pusherBody(pushKey string, changes map[string]any) map[string]any {
	b := map[string]any{
		"kind": "http", "app_id": "im.myelin.test", "pushkey": pushKey,
		"app_display_name": "Myelin", "device_display_name": "Phone", "profile_tag": "tag", "lang": "en",
		"data": map[string]any{"url": gatewayURL, "format": "event_id_only", "custom": 1},
	}
	for k, v := range changes {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

// listsPushKeys checks GET /pushers' pushkeys, in any order.
func listsPushKeys(want ...string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var body struct {
			Pushers []map[string]any `json:"pushers"`
		}
		r.Decode(t, &body)
		if body.Pushers == nil {
			t.Fatalf("no pushers array: %s", r.Body)
		}
		var got []string
		for _, p := range body.Pushers {
			got = append(got, p["pushkey"].(string))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("pushkeys %v, want %v: %s", got, want, r.Body)
		}
	}
}

// listsPusher checks that GET /pushers lists the pusher of pusherBody("k1")
// with every field as set.
func listsPusher(t *testing.T, r *fixture.Response) {
	t.Helper()
	var body struct {
		Pushers []map[string]any `json:"pushers"`
	}
	r.Decode(t, &body)
	if len(body.Pushers) != 1 {
		t.Fatalf("want one pusher: %s", r.Body)
	}
	p, want := body.Pushers[0], pusherBody("k1", nil)
	for _, k := range []string{"kind", "app_id", "pushkey", "app_display_name", "device_display_name", "profile_tag", "lang"} {
		if p[k] != want[k] {
			t.Errorf("%s = %v, want %v", k, p[k], want[k])
		}
	}
	data, _ := p["data"].(map[string]any)
	if data["url"] != gatewayURL || data["format"] != "event_id_only" || data["custom"] != float64(1) {
		t.Errorf("data %v", p["data"])
	}
}

// TestPusherHandlers covers pushers.go: validation of POST /pushers/set,
// creation, update, append, deletion by kind null, and GET /pushers.
func TestPusherHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	withData := func(data any) map[string]any { return pusherBody("k1", map[string]any{"data": data}) }
	run(t, f, []call{
		{"list without token", "GET", "/pushers", "", nil, 401, "M_MISSING_TOKEN", nil},
		{"none yet", "GET", "/pushers", alice.Token, nil, 200, "", listsPushKeys()},
		{"set without token", "POST", "/pushers/set", "", pusherBody("k1", nil), 401, "M_MISSING_TOKEN", nil},
		{"wrong method", "PUT", "/pushers/set", alice.Token, pusherBody("k1", nil), 405, "M_UNRECOGNIZED", nil},
		{"not JSON", "POST", "/pushers/set", alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"not an object", "POST", "/pushers/set", alice.Token, `[]`, 400, "M_BAD_JSON", nil},
		{"without kind", "POST", "/pushers/set", alice.Token, pusherBody("k1", map[string]any{"kind": nil}), 400, "M_MISSING_PARAM", nil},
		{"without app_id", "POST", "/pushers/set", alice.Token, pusherBody("k1", map[string]any{"app_id": nil}), 400, "M_MISSING_PARAM", nil},
		{"without pushkey", "POST", "/pushers/set", alice.Token, pusherBody("", map[string]any{"pushkey": nil}), 400, "M_MISSING_PARAM", nil},
		{"without lang", "POST", "/pushers/set", alice.Token, pusherBody("k1", map[string]any{"lang": nil}), 400, "M_MISSING_PARAM", nil},
		{"without data", "POST", "/pushers/set", alice.Token, pusherBody("k1", map[string]any{"data": nil}), 400, "M_MISSING_PARAM", nil},
		{"without display names", "POST", "/pushers/set", alice.Token,
			pusherBody("k1", map[string]any{"app_display_name": nil, "device_display_name": nil}), 400, "M_MISSING_PARAM",
			func(t *testing.T, r *fixture.Response) {
				if msg, _ := r.JSON()["error"].(string); !strings.Contains(msg, "app_display_name, device_display_name") {
					t.Fatalf("error does not name the missing parameters: %s", r.Body)
				}
			}},
		{"app_id of the wrong type", "POST", "/pushers/set", alice.Token, pusherBody("k1", map[string]any{"app_id": 5}), 400, "M_BAD_JSON", nil},
		{"kind not a string", "POST", "/pushers/set", alice.Token, pusherBody("k1", map[string]any{"kind": 5}), 400, "M_INVALID_PARAM", nil},
		{"email kind", "POST", "/pushers/set", alice.Token,
			pusherBody("a@example.org", map[string]any{"kind": "email", "app_id": "m.email"}), 400, "M_INVALID_PARAM", nil},
		{"unknown kind", "POST", "/pushers/set", alice.Token, pusherBody("k1", map[string]any{"kind": "carrier-pigeon"}), 400, "M_INVALID_PARAM", nil},
		{"pushkey too long", "POST", "/pushers/set", alice.Token, pusherBody(strings.Repeat("k", 513), nil), 400, "M_INVALID_PARAM", nil},
		{"pushkey of 512 bytes", "POST", "/pushers/set", alice.Token, pusherBody(strings.Repeat("k", 512), nil), 200, "", nil},
		{"empty pushkey", "POST", "/pushers/set", alice.Token, pusherBody("", nil), 400, "M_INVALID_PARAM", nil},
		{"app_id too long", "POST", "/pushers/set", alice.Token,
			pusherBody("k1", map[string]any{"app_id": strings.Repeat("é", 65)}), 400, "M_INVALID_PARAM", nil},
		{"app_id of 64 characters", "POST", "/pushers/set", alice.Token,
			pusherBody("k64", map[string]any{"app_id": strings.Repeat("é", 64)}), 200, "", nil},
		{"data not an object", "POST", "/pushers/set", alice.Token, withData("x"), 400, "M_INVALID_PARAM", nil},
		{"data without url", "POST", "/pushers/set", alice.Token, withData(map[string]any{}), 400, "M_MISSING_PARAM", nil},
		{"url not a string", "POST", "/pushers/set", alice.Token, withData(map[string]any{"url": 1}), 400, "M_INVALID_PARAM", nil},
		{"url not a URL", "POST", "/pushers/set", alice.Token, withData(map[string]any{"url": "::"}), 400, "M_INVALID_PARAM", nil},
		{"url of another scheme", "POST", "/pushers/set", alice.Token,
			withData(map[string]any{"url": "ftp://push.example/_matrix/push/v1/notify"}), 400, "M_INVALID_PARAM", nil},
		{"url of another path", "POST", "/pushers/set", alice.Token,
			withData(map[string]any{"url": "https://push.example/notify"}), 400, "M_INVALID_PARAM", nil},
		{"unknown format", "POST", "/pushers/set", alice.Token,
			withData(map[string]any{"url": gatewayURL, "format": "full"}), 400, "M_INVALID_PARAM", nil},
		{"nothing stored by refusals", "GET", "/pushers", alice.Token, nil, 200, "",
			listsPushKeys(strings.Repeat("k", 512), "k64")},
		{"remove the long ones", "POST", "/pushers/set", alice.Token, `{"kind":null,"app_id":"im.myelin.test","pushkey":"` +
			strings.Repeat("k", 512) + `"}`, 200, "", nil},
		{"remove the other", "POST", "/pushers/set", alice.Token, `{"kind":null,"app_id":"` + strings.Repeat("é", 64) +
			`","pushkey":"k64"}`, 200, "", nil},
		{"both removed", "GET", "/pushers", alice.Token, nil, 200, "", listsPushKeys()},
		{"set", "POST", "/pushers/set", alice.Token, pusherBody("k1", nil), 200, "", nil},
		{"listed", "GET", "/pushers", alice.Token, nil, 200, "", listsPusher},
		{"plain http gateway", "POST", "/pushers/set", alice.Token,
			pusherBody("k2", map[string]any{"data": map[string]any{"url": "http://127.0.0.1:5000/_matrix/push/v1/notify"}}), 200, "", nil},
		{"update", "POST", "/pushers/set", alice.Token, pusherBody("k2", map[string]any{"lang": "fr"}), 200, "",
			nil},
		{"both listed", "GET", "/pushers", alice.Token, nil, 200, "", listsPushKeys("k1", "k2")},
		{"bob appends the same pushkey", "POST", "/pushers/set", bob.Token, pusherBody("k1", map[string]any{"append": true}), 200, "", nil},
		{"alice keeps hers", "GET", "/pushers", alice.Token, nil, 200, "", listsPushKeys("k1", "k2")},
		{"bob has his", "GET", "/pushers", bob.Token, nil, 200, "", listsPushKeys("k1")},
		{"bob takes the pushkey over", "POST", "/pushers/set", bob.Token, pusherBody("k2", nil), 200, "", nil},
		{"alice lost it", "GET", "/pushers", alice.Token, nil, 200, "", listsPushKeys("k1")},
		{"delete: missing app_id", "POST", "/pushers/set", alice.Token, `{"kind":null,"pushkey":"k1"}`, 400, "M_MISSING_PARAM", nil},
		{"delete an unknown pusher", "POST", "/pushers/set", alice.Token, `{"kind":null,"app_id":"x","pushkey":"k1"}`, 200, "",
			nil},
		{"delete", "POST", "/pushers/set", alice.Token, `{"kind":null,"app_id":"im.myelin.test","pushkey":"k1"}`, 200, "", nil},
		{"deleted", "GET", "/pushers", alice.Token, nil, 200, "", listsPushKeys()},
		{"bob's untouched", "GET", "/pushers", bob.Token, nil, 200, "", listsPushKeys("k1", "k2")},
	})
}

// TestPushersGoWithTheSession: a pusher goes when the session that set it
// logs out or is deleted, not when another does.
func TestPushersGoWithTheSession(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice := f.User(t, "alice")
	second, third := login(t, f, alice), login(t, f, alice)
	run(t, f, []call{
		{"set from the first session", "POST", "/pushers/set", alice.Token, pusherBody("k1", nil), 200, "", nil},
		{"set from the second", "POST", "/pushers/set", second, pusherBody("k2", nil), 200, "", nil},
		{"set from the third", "POST", "/pushers/set", third, pusherBody("k3", nil), 200, "", nil},
		{"log the second out", "POST", "/logout", second, `{}`, 200, "", nil},
		{"its pusher is gone", "GET", "/pushers", alice.Token, nil, 200, "", listsPushKeys("k1", "k3")},
		{"delete the third", "POST", "/delete_devices", alice.Token, map[string]any{
			"devices": []string{deviceOf(t, f, third)}, "auth": passwordAuth(alice, alice.Password),
		}, 200, "", nil},
		{"its pusher is gone too", "GET", "/pushers", alice.Token, nil, 200, "", listsPushKeys("k1")},
	})
}
