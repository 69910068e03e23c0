package internal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

// TestInputRemoteRedaction: a redaction from another server is applied to
// its target when its sender's server sent the target or the sender has
// the redact level, and is only stored otherwise (spec: room versions,
// "Handling redactions"); the output log names what it redacted.
func TestInputRemoteRedaction(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		outputs := recordOutputs(t, f)
		roomID, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := f.rs.loadRoom(ctx, roomID)
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		x := &remote{t: t, priv: priv, ver: r.version, room: roomID, now: time.Now()}
		const rita = "@rita:remote.test"
		// send inputs an event of rita's on the room's head.
		send := func(evType string, stateKey *string, content any) string {
			t.Helper()
			r.mu.Lock()
			prev, depth := append([]string(nil), r.extremities...), r.depth
			r.mu.Unlock()
			ev := x.event(rita, evType, stateKey, content, prev, depth+1, r)
			if got, err := f.rs.InputEvent(ctx, ev); err != nil || got != api.InputAccepted {
				t.Fatalf("input %s: %v %v", evType, got, err)
			}
			return ev.EventID()
		}
		send(spec.MRoomMember, strPtr(rita), map[string]string{"membership": "join"})
		own := send("m.room.message", nil, map[string]string{"msgtype": "m.text", "body": "oops"})
		alices := sendText(t, f.rs, roomID, alice, "mine")

		tests := []struct {
			name, target string
			applied      bool
		}{
			{"the sender's own server's event", own, true},
			{"another server's event, no redact level", alices, false},
			{"an event this server never saw", "$unknown:remote.test", false},
		}
		for _, tt := range tests {
			red := send(spec.MRoomRedaction, nil, map[string]string{"redacts": tt.target})
			waitFor(t, func() bool { return outputs.has(red) })
			oe := outputs.get(red)
			if got := oe.RedactedEventID != ""; got != tt.applied {
				t.Errorf("%s: output names a redacted event %q, want applied=%v", tt.name, oe.RedactedEventID, tt.applied)
			}
			if ev, err := f.store.EventByID(ctx, tt.target); err == nil {
				if got := ev.RedactedBy == red; got != tt.applied {
					t.Errorf("%s: stored redacted_by %q, want applied=%v", tt.name, ev.RedactedBy, tt.applied)
				}
				var body struct {
					Content map[string]any `json:"content"`
				}
				_ = json.Unmarshal(ev.JSON, &body)
				if tt.applied && len(body.Content) != 0 {
					t.Errorf("%s: content kept after redaction: %v", tt.name, body.Content)
				}
			}
		}
	})
}

// waitFor polls cond until it holds, failing the test after ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
	}
}

// outputRecorder keeps the roomserver's output log by event ID.
type outputRecorder struct {
	mu   sync.Mutex
	byID map[string]api.OutputEvent
}

// recordOutputs subscribes to f's output log and records what it carries.
func recordOutputs(t *testing.T, f *fixture) *outputRecorder {
	t.Helper()
	o := &outputRecorder{byID: map[string]api.OutputEvent{}}
	_, err := f.bus.Subscribe(context.Background(), api.OutputTopic, "test", func(_ context.Context, m *bus.Message) error {
		var oe api.OutputEvent
		_ = json.Unmarshal(m.Body, &oe)
		o.mu.Lock()
		o.byID[oe.EventID] = oe
		o.mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (o *outputRecorder) get(eventID string) api.OutputEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byID[eventID]
}

func (o *outputRecorder) has(eventID string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.byID[eventID]
	return ok
}
