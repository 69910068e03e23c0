package federationapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
)

// TestJoinRemote: a join through servers that refuse it returns the last
// one's own error, which a client gets as that server said it when it is a
// refusal the client can act on; no server to ask is fedapi.ErrNoServers.
func TestJoinRemote(t *testing.T) {
	f, remote := newFedAnswering(t)
	ctx := context.Background()
	alice := f.User(t, "alice")
	const room = "!lounge:remote.test"
	content := map[string]any{"membership": "join"}
	for _, servers := range [][]string{nil, {"test.local"}} {
		if _, err := f.api.JoinRemote(ctx, room, alice.ID, servers, content); !errors.Is(err, fedapi.ErrNoServers) {
			t.Fatalf("through %v: %v", servers, err)
		}
	}
	tests := []struct {
		name    string
		servers []string
		status  int
		body    string
		client  int    // the status a client would see
		says    string // in the message a client would read
	}{
		{
			name:    "not invited",
			servers: []string{"remote.test"},
			status:  http.StatusForbidden,
			body:    `{"errcode":"M_FORBIDDEN","error":"You are not invited to this room"}`,
			client:  http.StatusForbidden,
			says:    "remote.test answered 403 M_FORBIDDEN: You are not invited to this room",
		},
		{
			name:    "a version this server lacks",
			servers: []string{"remote.test"},
			status:  http.StatusBadRequest,
			body:    `{"errcode":"M_INCOMPATIBLE_ROOM_VERSION","error":"no","room_version":"99"}`,
			client:  http.StatusBadRequest,
			says:    "remote.test answered 400",
		},
		{
			name:    "unknown there",
			servers: []string{"remote.test"},
			status:  http.StatusNotFound,
			body:    `{"errcode":"M_NOT_FOUND","error":"Unknown room"}`,
			client:  http.StatusNotFound,
			says:    "Unknown room",
		},
		{
			name:    "the last server cannot be reached",
			servers: []string{"remote.test", stranger},
			status:  http.StatusForbidden,
			body:    `{"errcode":"M_FORBIDDEN","error":"no"}`,
			client:  http.StatusBadGateway,
			says:    stranger + " could not be reached",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			remote.answer(tc.status, tc.body)
			_, err := f.api.JoinRemote(ctx, room, alice.ID, tc.servers, content)
			me, ok := httputil.AsMatrixError(err)
			if !ok || me.Status != tc.client || !strings.Contains(me.Message, tc.says) {
				t.Fatalf("a client would see %+v for %v", me, err)
			}
			if paths := remote.asked(); len(paths) != 1 || !strings.HasPrefix(paths[0], "/_matrix/federation/v1/make_join/") {
				t.Fatalf("asked remote.test %v", paths)
			}
		})
	}
	if _, err := f.api.JoinRemote(ctx, "lounge", alice.ID, []string{"remote.test"}, content); err == nil {
		t.Fatal("joined a room ID that is not one")
	}
}

// TestResolveRemoteAlias: another server's alias is asked of it (spec:
// GET /_matrix/federation/v1/query/directory); its 404 is
// fedapi.ErrRemoteNotFound.
func TestResolveRemoteAlias(t *testing.T) {
	f, remote := newFedAnswering(t)
	ctx := context.Background()
	remote.answer(http.StatusOK, `{"room_id":"!lounge:remote.test","servers":["remote.test","third.test"]}`)
	room, servers, err := f.api.ResolveRemoteAlias(ctx, "#lounge:remote.test")
	if err != nil || room != "!lounge:remote.test" || strings.Join(servers, ",") != "remote.test,third.test" {
		t.Fatalf("resolved to %s through %v (%v)", room, servers, err)
	}
	remote.answer(http.StatusNotFound, `{"errcode":"M_NOT_FOUND","error":"Room alias not found."}`)
	if _, _, err := f.api.ResolveRemoteAlias(ctx, "#nothing:remote.test"); !errors.Is(err, fedapi.ErrRemoteNotFound) {
		t.Fatalf("an unknown alias: %v", err)
	}
	if _, _, err := f.api.ResolveRemoteAlias(ctx, "#x:"+stranger); !errors.Is(err, fedapi.ErrRemoteUnavailable) {
		t.Fatalf("a server that cannot be reached: %v", err)
	}
	if _, _, err := f.api.ResolveRemoteAlias(ctx, "lounge"); err == nil {
		t.Fatal("resolved what is not an alias")
	}
}

// TestLeaveRemote: an invite is rejected through the inviting server
// (make_leave, send_leave); when that server refuses, locally (the invite
// must not outlive it), and the invite is forgotten either way. With no
// invite there is no server to go through.
func TestLeaveRemote(t *testing.T) {
	f, remote := newFedAnswering(t)
	ctx := context.Background()
	alice := f.User(t, "alice")
	ev := f.remoteInvite(t, alice.ID, nil)
	f.DoSigned(t, f.remote, http.MethodPut, invitePath(ev), inviteBody("10", ev)).Want(t, http.StatusOK)
	remote.answer(http.StatusForbidden, `{"errcode":"M_FORBIDDEN","error":"not now"}`)
	if err := f.api.LeaveRemote(ctx, inviteRoom, alice.ID); err != nil {
		t.Fatalf("rejecting when the inviting server refuses: %v", err)
	}
	if paths := remote.asked(); len(paths) != 1 || !strings.HasPrefix(paths[0], "/_matrix/federation/v1/make_leave/") {
		t.Fatalf("asked remote.test %v", paths)
	}
	if err := f.api.LeaveRemote(ctx, inviteRoom, alice.ID); !errors.Is(err, fedapi.ErrNoServers) {
		t.Fatalf("no invite: %v", err)
	}
}
