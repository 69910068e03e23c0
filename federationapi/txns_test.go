package federationapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// TestSendRefusals: a transaction that is not one, or over the spec's
// limits (50 PDUs, 100 EDUs), is refused whole (spec: PUT
// /_matrix/federation/v1/send/{txnId}).
func TestSendRefusals(t *testing.T) {
	f := newFed(t)
	pdus := make([]map[string]any, 51)
	edus := make([]map[string]any, 101)
	f.runRefusals(t, []refusal{
		{name: "pdus not a list", method: http.MethodPut, path: "/_matrix/federation/v1/send/t1", body: `{"pdus":"x"}`,
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "over 50 PDUs", method: http.MethodPut, path: "/_matrix/federation/v1/send/t2", body: map[string]any{"pdus": pdus},
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "over 100 EDUs", method: http.MethodPut, path: "/_matrix/federation/v1/send/t3",
			body: map[string]any{"pdus": []any{}, "edus": edus}, status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
	})
}

// TestSend: each PDU of a transaction gets its own result: {} when taken
// in, an error for one not signed by its origin or whose room's ACL denies
// the origin; one of a room this server does not have gets none. A
// transaction sent again gets the same answer and is not run again.
func TestSend(t *testing.T) {
	f := newFed(t)
	ctx := context.Background()
	alice := f.User(t, "alice")
	hall := f.publicRoom(t, alice)
	f.joinRemote(t, hall, remoteUser("rita"))
	denied := f.publicRoom(t, alice)
	f.joinRemote(t, denied, remoteUser("rita"))
	f.state(t, alice, denied, "m.room.server_acl", map[string]any{"allow": []string{"*"}, "deny": []string{"remote.test"}})

	good := f.remoteMessage(t, hall, "hello from rita", false)
	forged := f.remoteMessage(t, hall, "forged", true)
	acl := f.remoteMessage(t, denied, "through the ACL", false)
	var elsewhere map[string]any
	_ = json.Unmarshal(good.JSON(), &elsewhere)
	elsewhere["room_id"] = "!elsewhere:remote.test"
	txn := map[string]any{
		"origin": "remote.test", "origin_server_ts": 1,
		"pdus": []any{json.RawMessage(good.JSON()), json.RawMessage(forged.JSON()), json.RawMessage(acl.JSON()), elsewhere},
	}
	res := f.DoSigned(t, f.remote, http.MethodPut, "/_matrix/federation/v1/send/txn1", txn)
	res.Want(t, http.StatusOK)
	var answer struct {
		PDUs map[string]struct {
			Error string `json:"error"`
		} `json:"pdus"`
	}
	res.Decode(t, &answer)
	if r, ok := answer.PDUs[good.EventID()]; !ok || r.Error != "" {
		t.Fatalf("the good PDU: %s", res.Body)
	}
	if r := answer.PDUs[forged.EventID()]; !strings.Contains(r.Error, "signature") {
		t.Fatalf("the forged PDU: %s", res.Body)
	}
	if r := answer.PDUs[acl.EventID()]; !strings.Contains(r.Error, "ACL") {
		t.Fatalf("the PDU through the ACL: %s", res.Body)
	}
	if len(answer.PDUs) != 3 {
		t.Fatalf("a result for a room this server does not have: %s", res.Body)
	}
	if evs, err := f.Rooms.RoomEvents(ctx, hall, []string{good.EventID(), forged.EventID()}); err != nil || len(evs) != 1 {
		t.Fatalf("stored %d of the good and the forged PDU (%v)", len(evs), err)
	}
	// Sent again, with the forged PDU left out: the first answer.
	txn["pdus"] = []any{json.RawMessage(good.JSON())}
	again := f.DoSigned(t, f.remote, http.MethodPut, "/_matrix/federation/v1/send/txn1", txn)
	again.Want(t, http.StatusOK)
	wantJSON(t, again.Body, string(res.Body))
}

// remoteMessage is a message of rita's (joined) in room, on its latest
// events, signed by remote.test (forged: by another key under its key ID).
func (f *fed) remoteMessage(t *testing.T, room, body string, forged bool) gomatrixserverlib.PDU {
	t.Helper()
	ctx := context.Background()
	prev, err := f.Rooms.LatestEventIDs(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	var auth []string
	for _, key := range [][2]string{{spec.MRoomPowerLevels, ""}, {spec.MRoomMember, remoteUser("rita")}} {
		ev, err := f.Rooms.StateEvent(ctx, room, key[0], key[1])
		if err != nil {
			t.Fatalf("%v: %v", key, err)
		}
		auth = append(auth, ev.ID)
	}
	content, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": body})
	proto := gomatrixserverlib.ProtoEvent{SenderID: remoteUser("rita"), RoomID: room, Type: "m.room.message",
		Content: content, PrevEvents: prev, AuthEvents: auth, Depth: 1000}
	if forged {
		return impostorEvent(t, "12", proto)
	}
	return f.remoteEvent(t, "12", &proto)
}
