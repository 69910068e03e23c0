package routing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/test/fixture"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// toDeviceBody is the part of a /sync answer (or WebSocket frame) the
// to-device tests look at.
type toDeviceBody struct {
	NextBatch string `json:"next_batch"`
	ToDevice  struct {
		Events []struct {
			Sender  string         `json:"sender"`
			Type    string         `json:"type"`
			Content map[string]any `json:"content"`
		} `json:"events"`
	} `json:"to_device"`
}

// numbers lists the "i" of each to-device event's content, in order.
func (b toDeviceBody) numbers() []int {
	out := make([]int, len(b.ToDevice.Events))
	for i, ev := range b.ToDevice.Events {
		n, _ := ev.Content["i"].(float64)
		out[i] = int(n)
	}
	return out
}

func syncToDevice(t *testing.T, f *fixture.Fixture, u *fixture.User, query string) toDeviceBody {
	t.Helper()
	res := f.Do(t, http.MethodGet, syncPath+"?"+query, u.Token, nil)
	res.Want(t, http.StatusOK)
	var b toDeviceBody
	res.Decode(t, &b)
	return b
}

// sendToDevice sends from's messages numbered from..to-1 to u's device,
// one request each.
func sendToDevice(t *testing.T, f *fixture.Fixture, from, to *fixture.User, first, end int) {
	t.Helper()
	for i := first; i < end; i++ {
		msgs := map[string]map[string]json.RawMessage{to.ID: {to.Device: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}}
		_, err := f.Users.SendToDevice(context.Background(), from.ID, userapi.DeviceID(from.Device), fmt.Sprint("t", i), "m.test", msgs)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// pending counts the messages waiting in u's device's inbox.
func pending(t *testing.T, f *fixture.Fixture, u *fixture.User) int {
	t.Helper()
	local := userapi.Localpart(strings.TrimPrefix(strings.Split(u.ID, ":")[0], "@"))
	msgs, _, err := f.Users.ToDeviceSince(context.Background(), local, userapi.DeviceID(u.Device), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

func wantNumbers(t *testing.T, b toDeviceBody, first, end int) {
	t.Helper()
	got := b.numbers()
	if len(got) != end-first {
		t.Fatalf("%d to-device events %v, want %d..%d", len(got), got, first, end-1)
	}
	for i, n := range got {
		if n != first+i {
			t.Fatalf("to-device events %v, want %d..%d in order", got, first, end-1)
		}
	}
}

// TestSyncToDevice: /sync lists a device's to-device messages in order,
// at most 100 at a time; a sync with a token deletes what came before it,
// and one with an older token (a lost answer) gets the rest again.
func TestSyncToDevice(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnvOn(t, db)
		start := syncToDevice(t, e.Fixture, e.bob, "")
		if len(start.ToDevice.Events) != 0 {
			t.Fatalf("initial sync with to-device events: %+v", start.ToDevice)
		}
		sendToDevice(t, e.Fixture, e.alice, e.bob, 0, 150)
		first := syncToDevice(t, e.Fixture, e.bob, "since="+url.QueryEscape(start.NextBatch))
		wantNumbers(t, first, 0, 100)
		if ev := first.ToDevice.Events[0]; ev.Sender != e.alice.ID || ev.Type != "m.test" {
			t.Fatalf("event %+v", ev)
		}
		if other := syncToDevice(t, e.Fixture, e.carol, ""); len(other.ToDevice.Events) != 0 {
			t.Fatal("carol got bob's messages")
		}
		second := syncToDevice(t, e.Fixture, e.bob, "since="+url.QueryEscape(first.NextBatch))
		wantNumbers(t, second, 100, 150)
		if n := pending(t, e.Fixture, e.bob); n != 50 {
			t.Fatalf("%d messages left after acknowledging the first 100, want 50", n)
		}
		// The second answer was lost: the client syncs with the first token again.
		again := syncToDevice(t, e.Fixture, e.bob, "since="+url.QueryEscape(first.NextBatch))
		wantNumbers(t, again, 100, 150)
		done := syncToDevice(t, e.Fixture, e.bob, "since="+url.QueryEscape(again.NextBatch))
		wantNumbers(t, done, 0, 0)
		if n := pending(t, e.Fixture, e.bob); n != 0 {
			t.Fatalf("%d messages left after acknowledging all", n)
		}
		// A token from before to-device positions ("s<N>_<A>") gets whatever waits.
		sendToDevice(t, e.Fixture, e.alice, e.bob, 150, 152)
		old := strings.Join(strings.Split(done.NextBatch, "_")[:2], "_")
		wantNumbers(t, syncToDevice(t, e.Fixture, e.bob, "since="+url.QueryEscape(old)), 150, 152)
	})
}

// TestSyncToDeviceLongPoll: a long poll returns as soon as a to-device
// message for the device arrives.
func TestSyncToDeviceLongPoll(t *testing.T) {
	e := newEnv(t)
	first := syncToDevice(t, e.Fixture, e.bob, "")
	got := make(chan toDeviceBody, 1)
	go func() {
		res := e.Do(t, http.MethodGet, syncPath+"?timeout=20000&since="+url.QueryEscape(first.NextBatch), e.bob.Token, nil)
		var b toDeviceBody
		_ = json.Unmarshal(res.Body, &b)
		got <- b
	}()
	time.Sleep(100 * time.Millisecond) // let the poll start waiting
	sent := time.Now()
	sendToDevice(t, e.Fixture, e.alice, e.bob, 7, 8)
	select {
	case b := <-got:
		wantNumbers(t, b, 7, 8)
		if d := time.Since(sent); d > 5*time.Second {
			t.Fatalf("long poll answered after %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll not woken by a to-device message")
	}
}

// TestWebSocketToDevice: a to-device message is pushed as a frame, and
// stays until a token the client sends acknowledges it.
func TestWebSocketToDevice(t *testing.T) {
	e := newEnv(t)
	start := doSync(t, e.Fixture, e.bob, "").NextBatch
	c := dialWS(t, e.Fixture, e.bob, "?since="+url.QueryEscape(start))
	sendToDevice(t, e.Fixture, e.alice, e.bob, 0, 3)
	var b toDeviceBody
	for len(b.ToDevice.Events) < 3 {
		f := c.frameRaw()
		var next toDeviceBody
		if err := json.Unmarshal(f, &next); err != nil {
			t.Fatal(err)
		}
		b.ToDevice.Events = append(b.ToDevice.Events, next.ToDevice.Events...)
		b.NextBatch = next.NextBatch
	}
	wantNumbers(t, b, 0, 3)
	if n := pending(t, e.Fixture, e.bob); n != 3 {
		t.Fatalf("%d messages left after frames the client has not acknowledged, want 3", n)
	}
	c.send(`{"since":"` + b.NextBatch + `"}`)
	deadline := time.Now().Add(5 * time.Second)
	for pending(t, e.Fixture, e.bob) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a since sent over the WebSocket did not acknowledge the messages")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
