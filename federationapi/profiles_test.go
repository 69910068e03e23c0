package federationapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
)

// TestRemoteProfile: another server's user's profile is asked of that
// server (spec: GET /_matrix/federation/v1/query/profile) and kept a few
// minutes; its 404 is fedapi.ErrRemoteNotFound, another refusal is its
// own error, and no usable answer is fedapi.ErrRemoteUnavailable.
func TestRemoteProfile(t *testing.T) {
	f, remote := newFedAnswering(t)
	ctx := context.Background()
	tests := []struct {
		name        string
		user        string
		status      int
		body        string
		display     string // the profile's displayname, when it has one
		notFound    bool
		unavailable bool
		clientSees  int // the status of a refusal passed through
	}{
		{name: "a profile", user: "@rita:remote.test", status: http.StatusOK, body: `{"displayname":"Rita"}`, display: "Rita"},
		{name: "kept: not asked again", user: "@rita:remote.test", status: http.StatusInternalServerError, body: `{}`, display: "Rita"},
		{
			name:       "no such user",
			user:       "@nobody:remote.test",
			status:     http.StatusNotFound,
			body:       `{"errcode":"M_NOT_FOUND","error":"Profile not found"}`,
			notFound:   true,
			clientSees: http.StatusNotFound,
		},
		{
			name:       "not disclosed",
			user:       "@shy:remote.test",
			status:     http.StatusForbidden,
			body:       `{"errcode":"M_FORBIDDEN","error":"Profile lookup over federation is disabled"}`,
			clientSees: http.StatusForbidden,
		},
		{
			name:        "a broken server",
			user:        "@x:remote.test",
			status:      http.StatusInternalServerError,
			body:        `oops`,
			unavailable: true,
			clientSees:  http.StatusBadGateway,
		},
		{name: "a server that cannot be reached", user: "@x:" + stranger, unavailable: true, clientSees: http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			remote.answer(tc.status, tc.body)
			p, err := f.api.RemoteProfile(ctx, tc.user)
			if tc.display != "" {
				if err != nil || string(p["displayname"]) != `"`+tc.display+`"` {
					t.Fatalf("profile %v (%v)", p, err)
				}
				return
			}
			if errors.Is(err, fedapi.ErrRemoteNotFound) != tc.notFound || errors.Is(err, fedapi.ErrRemoteUnavailable) != tc.unavailable {
				t.Fatalf("error %v: not found %v, unavailable %v", err, tc.notFound, tc.unavailable)
			}
			if me, ok := httputil.AsMatrixError(err); !ok || me.Status != tc.clientSees {
				t.Fatalf("a client would see %+v for %v", me, err)
			}
		})
	}
	if _, err := f.api.RemoteProfile(ctx, "rita"); err == nil || errors.Is(err, fedapi.ErrRemoteUnavailable) {
		t.Fatalf("not a user ID: %v", err)
	}
	if paths := remote.asked(); len(paths) != 0 {
		t.Fatalf("a malformed user ID was asked about: %v", paths)
	}
}
