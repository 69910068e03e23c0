package routing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/fixture"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// deviceListBody is the part of a /sync answer the device-list tests read.
type deviceListBody struct {
	NextBatch   string `json:"next_batch"`
	DeviceLists struct {
		Changed []string `json:"changed"`
		Left    []string `json:"left"`
	} `json:"device_lists"`
	OTKCount      map[string]int `json:"device_one_time_keys_count"`
	FallbackTypes []string       `json:"device_unused_fallback_key_types"`
}

func syncDeviceLists(t *testing.T, e *env, u *fixture.User, query string) deviceListBody {
	t.Helper()
	res := e.Do(t, http.MethodGet, syncPath+"?"+query, u.Token, nil)
	res.Want(t, http.StatusOK)
	var b deviceListBody
	res.Decode(t, &b)
	return b
}

// uploadDeviceKeys gives u's device new identity keys (a device-list
// change), with n one-time keys and, when fallback, a fallback key.
func uploadDeviceKeys(t *testing.T, e *env, u *fixture.User, n int, fallback bool) {
	t.Helper()
	local := userapi.Localpart(strings.TrimPrefix(strings.Split(u.ID, ":")[0], "@"))
	keys, _ := json.Marshal(map[string]any{
		"user_id": u.ID, "device_id": u.Device,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2"},
		"keys":       map[string]string{"curve25519:" + u.Device: fmt.Sprint("curve-", time.Now().UnixNano())},
		"signatures": map[string]any{u.ID: map[string]string{"ed25519:" + u.Device: "sig"}},
	})
	up := userapi.KeyUpload{DeviceKeys: keys, OneTimeKeys: map[string]json.RawMessage{}}
	for i := range n {
		up.OneTimeKeys[fmt.Sprintf("signed_curve25519:%s%d", u.Device, i)] = json.RawMessage(fmt.Sprintf(`{"key":"k%d"}`, i))
	}
	if fallback {
		up.FallbackKeys = map[string]json.RawMessage{"signed_curve25519:FB": json.RawMessage(`{"key":"fb","fallback":true}`)}
	}
	if _, err := e.Users.UploadKeys(context.Background(), local, userapi.DeviceID(u.Device), up); err != nil {
		t.Fatalf("uploading %s's keys: %v", u.ID, err)
	}
}

// waitDeviceLists waits until the sync component has heard of every
// device-list change the user API has stored.
func waitDeviceLists(t *testing.T, e *env) {
	t.Helper()
	_, latest, err := e.Users.DeviceListChanges(context.Background(), math.MaxInt64, -1)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); e.sync.Notifier.DeviceListPos() < latest; {
		if time.Now().After(deadline) {
			t.Fatalf("the sync component is at device-list position %d, the user API at %d", e.sync.Notifier.DeviceListPos(), latest)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSyncDeviceLists: device_lists.changed names the users sharing a room
// whose keys changed, and those who joined; left those who no longer share
// one; the long-poll wakes for a change; the device's key counts come with
// every response.
func TestSyncDeviceLists(t *testing.T) {
	e := newEnv(t)
	first := syncDeviceLists(t, e, e.alice, "")
	if len(first.DeviceLists.Changed)+len(first.DeviceLists.Left) != 0 {
		t.Errorf("initial sync listed device changes: %+v", first.DeviceLists)
	}
	if first.OTKCount["signed_curve25519"] != 0 || first.FallbackTypes == nil || len(first.FallbackTypes) != 0 {
		t.Errorf("key counts before any upload: %v %v, want signed_curve25519 0 and []", first.OTKCount, first.FallbackTypes)
	}

	// bob (in the room) and carol (never in it) change keys while alice
	// waits: she is woken for bob only.
	done := make(chan deviceListBody, 1)
	go func() {
		done <- syncDeviceLists(t, e, e.alice, "timeout=10000&since="+url.QueryEscape(first.NextBatch))
	}()
	time.Sleep(100 * time.Millisecond)
	uploadDeviceKeys(t, e, e.carol, 0, false)
	uploadDeviceKeys(t, e, e.bob, 0, false)
	var woken deviceListBody
	select {
	case woken = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("alice's long-poll was not woken by bob's new keys")
	}
	if !slices.Equal(woken.DeviceLists.Changed, []string{e.bob.ID}) {
		t.Errorf("changed = %v, want only bob (carol shares no room)", woken.DeviceLists.Changed)
	}

	// alice's own keys: her count and fallback type; carol joins and bob
	// leaves.
	uploadDeviceKeys(t, e, e.alice, 3, true)
	e.Invite(t, e.alice, e.carol, e.room)
	e.Join(t, e.carol, e.room)
	e.waitStored(t, e.leave(t, e.bob, e.room))
	waitDeviceLists(t, e)
	after := syncDeviceLists(t, e, e.alice, "since="+url.QueryEscape(woken.NextBatch))
	if !slices.Equal(after.DeviceLists.Changed, []string{e.alice.ID, e.carol.ID}) {
		t.Errorf("changed = %v, want alice (her keys) and carol (joined)", after.DeviceLists.Changed)
	}
	if !slices.Equal(after.DeviceLists.Left, []string{e.bob.ID}) {
		t.Errorf("left = %v, want bob", after.DeviceLists.Left)
	}
	if after.OTKCount["signed_curve25519"] != 3 || !slices.Equal(after.FallbackTypes, []string{"signed_curve25519"}) {
		t.Errorf("key counts %v %v, want 3 and [signed_curve25519]", after.OTKCount, after.FallbackTypes)
	}

	// bob, gone, changes keys again: alice no longer hears of it.
	uploadDeviceKeys(t, e, e.bob, 0, false)
	waitDeviceLists(t, e)
	quiet := syncDeviceLists(t, e, e.alice, "timeout=300&since="+url.QueryEscape(after.NextBatch))
	if len(quiet.DeviceLists.Changed) != 0 {
		t.Errorf("changed = %v after bob left, want none", quiet.DeviceLists.Changed)
	}
}

// TestKeyChangesHandler: /keys/changes answers between two sync tokens what
// device_lists.changed said, and refuses missing or malformed tokens.
func TestKeyChangesHandler(t *testing.T) {
	e := newEnv(t)
	before := syncDeviceLists(t, e, e.alice, "").NextBatch
	uploadDeviceKeys(t, e, e.bob, 0, false)
	uploadDeviceKeys(t, e, e.carol, 0, false)
	// The long-poll returns once bob's change has reached the sync stream.
	after := syncDeviceLists(t, e, e.alice, "timeout=5000&since="+url.QueryEscape(before)).NextBatch
	uploadDeviceKeys(t, e, e.alice, 0, false) // after the second token
	path := func(from, to string) string {
		return "/_matrix/client/v3/keys/changes?from=" + url.QueryEscape(from) + "&to=" + url.QueryEscape(to)
	}
	changed := func(want ...string) func(t *testing.T, res *fixture.Response) {
		return func(t *testing.T, res *fixture.Response) {
			var b struct{ Changed, Left []string }
			res.Decode(t, &b)
			if !slices.Equal(b.Changed, want) || b.Left == nil || len(b.Left) != 0 {
				t.Errorf("changed %v left %v, want changed %v and left []", b.Changed, b.Left, want)
			}
		}
	}
	cases := append(authCases(path(before, after)), []reqCase{
		missingParam("no from", e.alice.Token, "/_matrix/client/v3/keys/changes?to="+url.QueryEscape(after)),
		missingParam("no to", e.alice.Token, "/_matrix/client/v3/keys/changes?from="+url.QueryEscape(before)),
		invalidParam("malformed from", e.alice.Token, path("x", after)),
		invalidParam("negative to", e.alice.Token, path(before, "s-4")),
		{name: "between the tokens", token: e.alice.Token, path: path(before, after), status: http.StatusOK, check: changed(e.bob.ID)},
		// From the stream's start: alice's first login counts too.
		{name: "an old token: from the start", token: e.alice.Token, path: path("s0", after), status: http.StatusOK,
			check: changed(e.alice.ID, e.bob.ID)},
		{name: "an old to: up to the end", token: e.alice.Token, path: path(before, "s1"), status: http.StatusOK,
			check: changed(e.alice.ID, e.bob.ID)},
	}...)
	run(t, e.Fixture, http.MethodGet, cases)
}

// TestInitialSyncCoversEarlierDeviceChanges: a change committed just before
// an initial sync is covered by its token even when the sync component has
// not yet heard of it, so the next sync does not list it again (a client
// that registers and syncs at once would otherwise be woken at once by its
// own registration).
func TestInitialSyncCoversEarlierDeviceChanges(t *testing.T) {
	e := newEnv(t)
	for i := range 20 {
		uploadDeviceKeys(t, e, e.carol, 0, false) // carol shares no room: only her own sync lists her
		first := syncDeviceLists(t, e, e.carol, "")
		waitDeviceLists(t, e)
		next := syncDeviceLists(t, e, e.carol, "since="+url.QueryEscape(first.NextBatch))
		if len(next.DeviceLists.Changed) != 0 {
			t.Fatalf("round %d: the sync after an initial sync lists %v, changed before it", i, next.DeviceLists.Changed)
		}
	}
}
