package federationapi

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
)

// TestUntrustedPDU: a PDU over 64 KiB is refused before anything else; an
// event over a limit its room version did not enforce (a state key of 280
// bytes but 70 codepoints, room version 10) is kept, as gomatrixserverlib
// says it is persistable.
func TestUntrustedPDU(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ver := gomatrixserverlib.MustGetRoomVersion(gomatrixserverlib.RoomVersionV10)
	build := func(stateKey string, content any) gomatrixserverlib.PDU {
		c, _ := json.Marshal(content)
		proto := gomatrixserverlib.ProtoEvent{SenderID: "@a:x.test", RoomID: "!r:x.test", Type: "my.state", StateKey: &stateKey,
			Content: c, Depth: 3, PrevEvents: []string{"$p"}, AuthEvents: []string{"$c"}}
		ev, err := ver.NewEventBuilderFromProtoEvent(&proto).Build(time.Now(), "x.test", "ed25519:k", key)
		var verr gomatrixserverlib.EventValidationError
		if err != nil && !errors.As(err, &verr) {
			t.Fatal(err)
		}
		return ev
	}
	wide := build(strings.Repeat("💥", 70), map[string]any{})
	if p, err := untrustedPDU(ver, wide.JSON()); err != nil || p.EventID() != wide.EventID() {
		t.Fatalf("a 280-byte, 70-codepoint state key in v10: %v", err)
	}
	small := build("", map[string]any{"x": "y"})
	var m map[string]any
	_ = json.Unmarshal(small.JSON(), &m)
	m["content"] = map[string]any{"x": strings.Repeat("y", 70000)}
	big, _ := json.Marshal(m)
	if _, err := untrustedPDU(ver, big); !errors.Is(err, errPDUTooLarge) {
		t.Fatalf("a PDU over 64 KiB: %v", err)
	}
}
