package pusher

import (
	"encoding/json"
	"testing"
	"time"

	syncapi "github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/userapi/api"
)

func TestBackoff(t *testing.T) {
	w, err := New(Options{RetryMin: time.Second, RetryMax: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second,
		4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		if got := w.backoff(attempt); got != want {
			t.Errorf("backoff after %d failures: %v, want %v", attempt, got, want)
		}
	}
}

// TestBuildRequest covers what the full format derives from the event and
// the actions: user_is_target, tweaks and priority.
func TestBuildRequest(t *testing.T) {
	p := api.Pusher{AppID: "a", PushKey: "k", Data: json.RawMessage(`{"url":"https://g/_matrix/push/v1/notify"}`)}
	member := json.RawMessage(`{"type":"m.room.member","sender":"@a:x","state_key":"@b:x","content":{"membership":"invite"}}`)
	for _, c := range []struct {
		name       string
		event      json.RawMessage
		user       syncapi.NotifiedUser
		target     bool
		prio       string
		tweaks     string
		hasContent bool
	}{
		{"invite of the user", member, syncapi.NotifiedUser{UserID: "@b:x"}, true, "low", `{}`, true},
		{"invite of another", member, syncapi.NotifiedUser{UserID: "@c:x"}, false, "low", `{}`, true},
		{"sound", json.RawMessage(`{"type":"m.room.message","content":{}}`), syncapi.NotifiedUser{UserID: "@b:x",
			Actions: []json.RawMessage{json.RawMessage(`"notify"`), json.RawMessage(`{"set_tweak":"sound","value":"ping"}`)}},
			false, "high", `{"sound":"ping"}`, true},
		{"highlight false", json.RawMessage(`{"type":"m.room.message"}`), syncapi.NotifiedUser{UserID: "@b:x",
			Actions: []json.RawMessage{json.RawMessage(`{"set_tweak":"highlight","value":false}`)}},
			false, "low", `{"highlight":false}`, false},
		{"highlight flag", json.RawMessage(`{"type":"m.room.message","content":null}`), syncapi.NotifiedUser{UserID: "@b:x",
			Highlight: true}, false, "high", `{}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := buildRequest(p, &syncapi.Notification{EventID: "$e", RoomID: "!r", Event: c.event}, c.user)
			if err != nil {
				t.Fatal(err)
			}
			var req notifyRequest
			if err := json.Unmarshal(b, &req); err != nil {
				t.Fatal(err)
			}
			n := req.Notification
			tweaks, _ := json.Marshal(n.Devices[0].Tweaks)
			if n.UserIsTarget != c.target || n.Prio != c.prio || string(tweaks) != c.tweaks || (len(n.Content) > 0) != c.hasContent {
				t.Fatalf("target %v prio %s tweaks %s content %s", n.UserIsTarget, n.Prio, tweaks, n.Content)
			}
			if _, ok := n.Devices[0].Data["url"]; ok {
				t.Fatal("url forwarded to the gateway")
			}
		})
	}
}
