package federationapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// TestBackfill: a room's history is asked of its other servers (spec: GET
// /_matrix/federation/v1/backfill): none is fedapi.ErrNoServers, a refusal
// is that server's error; an answer with no events gives none.
func TestBackfill(t *testing.T) {
	f, remote := newFedAnswering(t)
	ctx := context.Background()
	alice := f.User(t, "alice")
	alone := f.publicRoom(t, alice)
	msg := f.Send(t, alice, alone, "hello")
	if _, err := f.api.Backfill(ctx, alone, []string{msg}, 10); !errors.Is(err, fedapi.ErrNoServers) {
		t.Fatalf("a room without other servers: %v", err)
	}
	if _, err := f.api.Backfill(ctx, "!nothing:test.local", []string{msg}, 10); !errors.Is(err, roomapi.ErrRoomNotFound) {
		t.Fatalf("an unknown room: %v", err)
	}
	shared := f.publicRoom(t, alice)
	f.joinRemote(t, shared, remoteUser("rita"))
	remote.answer(http.StatusForbidden, `{"errcode":"M_FORBIDDEN","error":"not in the room"}`)
	_, err := f.api.Backfill(ctx, shared, []string{msg}, 10)
	wantAnswer(t, err, clientAnswer{http.StatusForbidden, "M_FORBIDDEN", nil})
	if asked := remote.asked(); len(asked) != 1 || !strings.HasPrefix(asked[0], "/_matrix/federation/v1/backfill/") {
		t.Fatalf("asked %v", asked)
	}
	remote.answer(http.StatusOK, `{"origin":"remote.test","origin_server_ts":1,"pdus":[]}`)
	if evs, err := f.api.Backfill(ctx, shared, []string{msg}, 10); err != nil || len(evs) != 0 {
		t.Fatalf("an empty answer: %d events (%v)", len(evs), err)
	}
}
