package pusher_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/pusher"
	"github.com/myelin-im/myelin/userapi/storage"
)

// waitTimeout bounds every wait for a request to arrive.
const waitTimeout = 20 * time.Second

const roomID = "!room:test.local"

// env is a worker on a real durable bus and real user storage, on SQLite.
type env struct {
	store  *storage.Storage
	bus    bus.Bus
	worker *pusher.Worker
	reg    *prometheus.Registry
}

func newEnv(t *testing.T, opts pusher.Options) *env {
	t.Helper()
	ctx := context.Background()
	db := sqltest.Open(t, sqlutil.SQLite)
	store, err := storage.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	b, err := bus.NewDurable(ctx, db, bus.Options{RetryMin: time.Millisecond, PollInterval: 20 * time.Millisecond}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	e := &env{store: store, bus: b, reg: prometheus.NewRegistry()}
	opts.ServerName, opts.Log, opts.Registerer = "test.local", log, e.reg
	if e.worker, err = pusher.New(opts, store); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.worker.Close() })
	if err := e.worker.Start(ctx, b); err != nil {
		t.Fatal(err)
	}
	return e
}

// setPusher stores an http pusher of localpart to url with extra data.
func (e *env) setPusher(t *testing.T, localpart, pushKey, url string, data map[string]any) {
	t.Helper()
	d := map[string]any{"url": url}
	for k, v := range data {
		d[k] = v
	}
	raw, _ := json.Marshal(d)
	err := e.store.UpsertPusher(context.Background(), api.Pusher{
		Localpart: api.Localpart(localpart), DeviceID: "PHONE", Kind: "http", AppID: "im.myelin.app", PushKey: pushKey,
		PushKeyTS: 1700000000, AppDisplayName: "App", DeviceDisplayName: "Phone", Lang: "en", Data: raw,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// notify publishes a notification of a message event to users.
func (e *env) notify(t *testing.T, eventID string, users ...syncapi.NotifiedUser) {
	t.Helper()
	ev, _ := json.Marshal(map[string]any{
		"type": "m.room.message", "sender": "@alice:test.local", "event_id": eventID, "room_id": roomID,
		"origin_server_ts": 1, "content": map[string]any{"msgtype": "m.text", "body": "hello " + eventID},
	})
	body, _ := json.Marshal(syncapi.Notification{
		RoomID: roomID, EventID: eventID, Event: ev, SenderDisplayName: "Alice", RoomName: "Chat", Users: users,
	})
	if err := e.bus.Publish(context.Background(), syncapi.NotificationTopic, roomID, body, nil); err != nil {
		t.Fatal(err)
	}
}

func user(id string, unread int, actions ...string) syncapi.NotifiedUser {
	u := syncapi.NotifiedUser{UserID: id, Unread: unread}
	for _, a := range actions {
		u.Actions = append(u.Actions, json.RawMessage(a))
	}
	return u
}

// pushed is one request a gateway received.
type pushed struct {
	path, method, contentType string
	body                      map[string]any
}

// notification is the request's notification object.
func (p pushed) notification() map[string]any {
	n, _ := p.body["notification"].(map[string]any)
	return n
}

// device is the request's one device.
func (p pushed) device(t *testing.T) map[string]any {
	t.Helper()
	ds, _ := p.notification()["devices"].([]any)
	if len(ds) != 1 {
		t.Fatalf("devices %v, want one", p.notification()["devices"])
	}
	d, _ := ds[0].(map[string]any)
	return d
}

func (p pushed) eventID() string { s, _ := p.notification()["event_id"].(string); return s }

// gateway is a local push gateway that records what it is sent and
// answers with respond (nil: 200 {"rejected":[]}).
type gateway struct {
	srv     *httptest.Server
	got     chan pushed
	calls   atomic.Int64
	respond func(n int64, p pushed) (int, string)
}

func newGateway(t *testing.T, respond func(n int64, p pushed) (int, string)) *gateway {
	g := &gateway{got: make(chan pushed, 100), respond: respond}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pushed{path: r.URL.Path, method: r.Method, contentType: r.Header.Get("Content-Type")}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &p.body); err != nil {
			t.Errorf("gateway: the body is not JSON: %s", b)
		}
		n := g.calls.Add(1)
		status, resp := http.StatusOK, `{"rejected":[]}`
		if g.respond != nil {
			status, resp = g.respond(n, p)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, resp)
		g.got <- p
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) url() string { return g.srv.URL + "/_matrix/push/v1/notify" }

// next waits for the gateway's next request.
func (g *gateway) next(t *testing.T) pushed {
	t.Helper()
	select {
	case p := <-g.got:
		return p
	case <-time.After(waitTimeout):
		t.Fatal("the gateway got no request")
	}
	return pushed{}
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestPushFormats: the full format carries the event, event_id_only only
// its IDs; both carry counts, priority and the device with its data (less
// url) and tweaks.
func TestPushFormats(t *testing.T) {
	e := newEnv(t, pusher.Options{})
	full, idOnly := newGateway(t, nil), newGateway(t, nil)
	e.setPusher(t, "bob", "bob-key", full.url(), map[string]any{"custom": "x"})
	e.setPusher(t, "carol", "carol-key", idOnly.url(), map[string]any{"format": "event_id_only"})
	e.notify(t, "$e1",
		user("@bob:test.local", 3, `"notify"`, `{"set_tweak":"sound","value":"default"}`, `{"set_tweak":"highlight"}`),
		user("@carol:test.local", 0, `"notify"`))

	p := full.next(t)
	if p.path != "/_matrix/push/v1/notify" || p.method != http.MethodPost || p.contentType != "application/json" {
		t.Fatalf("request %s %s (%s)", p.method, p.path, p.contentType)
	}
	n := p.notification()
	want := map[string]any{
		"event_id": "$e1", "room_id": roomID, "type": "m.room.message", "sender": "@alice:test.local",
		"sender_display_name": "Alice", "room_name": "Chat", "prio": "high",
	}
	for k, v := range want {
		if n[k] != v {
			t.Errorf("full: %s = %v, want %v", k, n[k], v)
		}
	}
	if c, _ := n["content"].(map[string]any); c["body"] != "hello $e1" {
		t.Errorf("full: content %v", n["content"])
	}
	if c, _ := n["counts"].(map[string]any); c["unread"] != float64(3) {
		t.Errorf("full: counts %v", n["counts"])
	}
	d := p.device(t)
	if d["app_id"] != "im.myelin.app" || d["pushkey"] != "bob-key" || d["pushkey_ts"] != float64(1700000000) {
		t.Errorf("full: device %v", d)
	}
	if data, _ := d["data"].(map[string]any); !slices.Equal(keysOf(data), []string{"custom"}) || data["custom"] != "x" {
		t.Errorf("full: device data %v, want the pusher's data without url", d["data"])
	}
	if tw, _ := d["tweaks"].(map[string]any); tw["sound"] != "default" || tw["highlight"] != true {
		t.Errorf("full: tweaks %v", d["tweaks"])
	}

	p = idOnly.next(t)
	n = p.notification()
	if got := keysOf(n); !slices.Equal(got, []string{"counts", "devices", "event_id", "prio", "room_id"}) {
		t.Errorf("event_id_only: fields %v: %v", got, n)
	}
	if n["event_id"] != "$e1" || n["room_id"] != roomID || n["prio"] != "low" {
		t.Errorf("event_id_only: %v", n)
	}
	if c, _ := n["counts"].(map[string]any); len(c) != 0 {
		t.Errorf("event_id_only: a zero count is left out, got %v", c)
	}
	d = p.device(t)
	if data, _ := d["data"].(map[string]any); !slices.Equal(keysOf(data), []string{"format"}) {
		t.Errorf("event_id_only: device data %v, want format kept and url left out", d["data"])
	}
}

// TestOnlyLocalUsersArePushed: a user of another server with a local
// namesake, and a local user without pushers, get nothing; the namesake's
// next own notification is the first its gateway sees (one queue per
// pusher is in order).
func TestOnlyLocalUsersArePushed(t *testing.T) {
	e := newEnv(t, pusher.Options{})
	g := newGateway(t, nil)
	e.setPusher(t, "carol", "carol-key", g.url(), nil)
	e.notify(t, "$remote", user("@carol:remote.test", 1, `"notify"`), user("@dave:test.local", 1, `"notify"`))
	e.notify(t, "$local", user("@carol:test.local", 1, `"notify"`))
	if p := g.next(t); p.eventID() != "$local" {
		t.Fatalf("first push was of %s", p.eventID())
	}
}

// TestRejectedPushKeyDeletesThePusher: a pushkey the gateway rejects loses
// its pusher; the user's other pusher keeps working.
func TestRejectedPushKeyDeletesThePusher(t *testing.T) {
	e := newEnv(t, pusher.Options{})
	bad := newGateway(t, func(_ int64, p pushed) (int, string) {
		return http.StatusOK, `{"rejected":["` + p.device(t)["pushkey"].(string) + `"]}`
	})
	good := newGateway(t, nil)
	e.setPusher(t, "bob", "stale", bad.url(), nil)
	e.setPusher(t, "bob", "fresh", good.url(), nil)
	e.notify(t, "$e1", user("@bob:test.local", 1, `"notify"`))
	bad.next(t)
	good.next(t)
	deadline := time.Now().Add(waitTimeout)
	for {
		ps, err := e.store.Pushers(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 1 && ps[0].PushKey == "fresh" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rejected pusher was not deleted: %+v", ps)
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.notify(t, "$e2", user("@bob:test.local", 2, `"notify"`))
	if p := good.next(t); p.eventID() != "$e2" {
		t.Fatalf("the fresh pusher got %s", p.eventID())
	}
	if n := bad.calls.Load(); n != 1 {
		t.Fatalf("the rejected pushkey's gateway was called %d times", n)
	}
	counted(t, e, "rejected", 1)
}

// TestRetriesWithBackoff: failures are retried until the gateway answers;
// a notification that never gets through is given up after Attempts, and
// the pusher's next one goes out.
func TestRetriesWithBackoff(t *testing.T) {
	e := newEnv(t, pusher.Options{RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond, Attempts: 4})
	g := newGateway(t, func(n int64, p pushed) (int, string) {
		switch {
		case p.eventID() == "$flaky" && n < 3: // two failures, then success
			return http.StatusInternalServerError, `{}`
		case p.eventID() == "$dead":
			return http.StatusServiceUnavailable, `{}`
		}
		return http.StatusOK, `{"rejected":[]}`
	})
	e.setPusher(t, "bob", "bob-key", g.url(), nil)
	e.notify(t, "$flaky", user("@bob:test.local", 1, `"notify"`))
	e.notify(t, "$dead", user("@bob:test.local", 2, `"notify"`))
	e.notify(t, "$after", user("@bob:test.local", 3, `"notify"`))
	var got []string
	for len(got) < 3+4+1 {
		got = append(got, g.next(t).eventID())
	}
	want := []string{"$flaky", "$flaky", "$flaky", "$dead", "$dead", "$dead", "$dead", "$after"}
	if !slices.Equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	for outcome, want := range map[string]float64{"sent": 2, "failed": 6, "gave_up": 1} {
		counted(t, e, outcome, want)
	}
}

// TestDeadGatewayBlocksNoOne: a gateway that never answers holds up
// neither the bus nor other users' pushers.
func TestDeadGatewayBlocksNoOne(t *testing.T) {
	e := newEnv(t, pusher.Options{})
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })
	g := newGateway(t, nil)
	e.setPusher(t, "bob", "bob-key", hung.URL+"/_matrix/push/v1/notify", nil)
	e.setPusher(t, "carol", "carol-key", g.url(), nil)
	for _, id := range []string{"$e1", "$e2", "$e3"} {
		e.notify(t, id, user("@bob:test.local", 1, `"notify"`), user("@carol:test.local", 1, `"notify"`))
	}
	for _, id := range []string{"$e1", "$e2", "$e3"} {
		if p := g.next(t); p.eventID() != id {
			t.Fatalf("carol's gateway got %s, want %s", p.eventID(), id)
		}
	}
}

// counted waits until the worker's pushes counter of outcome reaches
// want (an outcome is counted once the gateway's answer is read, which may
// be after the gateway saw the request), failing if it never does or
// passes it.
func counted(t *testing.T, e *env, outcome string, want float64) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := pushes(t, e, outcome)
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			t.Fatalf("%s pushes counted %v, want %v", outcome, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pushes is the worker's pushes counter of outcome.
func pushes(t *testing.T, e *env, outcome string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "myelin_userapi_pushes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// counterOf is an UnreadCounter answering from a map.
type counterOf map[string]int

func (c counterOf) UnreadTotal(_ context.Context, userID string) (int, error) { return c[userID], nil }

// TestUnreadCountAtSending: with an unread counter, counts.unread is the
// counter's answer when the push is sent, not what the notification
// carried; without one it is what the notification carried (left out when
// zero).
func TestUnreadCountAtSending(t *testing.T) {
	e := newEnv(t, pusher.Options{})
	g := newGateway(t, nil)
	e.setPusher(t, "carol", "carol-key", g.url(), nil)
	unread := func(p pushed) any {
		counts, _ := p.notification()["counts"].(map[string]any)
		return counts["unread"]
	}
	e.notify(t, "$before", user("@carol:test.local", 0, `"notify"`))
	if p := g.next(t); unread(p) != nil {
		t.Fatalf("without a counter: counts %v", p.notification()["counts"])
	}
	e.worker.SetUnreadCounter(counterOf{"@carol:test.local": 7})
	e.notify(t, "$after", user("@carol:test.local", 1, `"notify"`))
	if p := g.next(t); p.eventID() != "$after" || unread(p) != float64(7) {
		t.Fatalf("with a counter: %s counts %v", p.eventID(), p.notification()["counts"])
	}
}
