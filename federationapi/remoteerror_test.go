package federationapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/matrix-org/gomatrix"
	"github.com/matrix-org/gomatrixserverlib/fclient"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
)

// remoteAnswer is what a remote server answers in TestRemoteError.
type remoteAnswer struct {
	status int
	body   string
}

// clientError is what the client of this server is answered with.
type clientError struct {
	status  int
	errcode string
	message string         // the message the client reads
	extra   map[string]any // fields besides errcode and error
}

// TestRemoteError: the federation client's errors for real HTTP answers
// (and for no answer) become what a client is told. A refusal the client
// can act on is passed through with the remote's errcode, message and
// fields (spec: invites and joins, "passed through to clients"); an error
// about this server's own request (M_INVALID_PARAM, M_MISSING_PARAM: "SHOULD
// fail with a 5xx"), its signature or rate, a 5xx, an answer that is no
// Matrix error and no answer at all are 502 M_UNKNOWN. The message names
// the server and quotes its own text, never the body's bytes.
func TestRemoteError(t *testing.T) {
	tests := []struct {
		name     string
		answer   remoteAnswer
		want     clientError
		notFound bool // errors.Is(err, fedapi.ErrRemoteNotFound)
	}{
		{
			name:   "forbidden",
			answer: remoteAnswer{403, `{"errcode":"M_FORBIDDEN","error":"User cannot invite the target user."}`},
			want:   clientError{403, "M_FORBIDDEN", "remote.test answered 403 M_FORBIDDEN: User cannot invite the target user.", nil},
		},
		{
			name: "incompatible room version, with room_version",
			answer: remoteAnswer{400, `{"errcode":"M_INCOMPATIBLE_ROOM_VERSION",` +
				`"error":"Your homeserver does not support the features required to join this room","room_version":"12"}`},
			want: clientError{400, "M_INCOMPATIBLE_ROOM_VERSION",
				"remote.test answered 400 M_INCOMPATIBLE_ROOM_VERSION: " +
					"Your homeserver does not support the features required to join this room",
				map[string]any{"room_version": "12"}},
		},
		{
			name:     "not found",
			answer:   remoteAnswer{404, `{"errcode":"M_NOT_FOUND","error":"no such user"}`},
			want:     clientError{404, "M_NOT_FOUND", "remote.test answered 404 M_NOT_FOUND: no such user", nil},
			notFound: true,
		},
		{
			name:   "invite blocked",
			answer: remoteAnswer{403, `{"errcode":"M_INVITE_BLOCKED","error":"invites are blocked"}`},
			want:   clientError{403, "M_INVITE_BLOCKED", "remote.test answered 403 M_INVITE_BLOCKED: invites are blocked", nil},
		},
		{
			name:   "invalid param is this server's request: 5xx",
			answer: remoteAnswer{400, `{"errcode":"M_INVALID_PARAM","error":"bad event"}`},
			want:   clientError{502, "M_UNKNOWN", "remote.test answered 400 M_INVALID_PARAM: bad event", nil},
		},
		{
			name:   "missing param is this server's request: 5xx",
			answer: remoteAnswer{400, `{"errcode":"M_MISSING_PARAM","error":"no room_version"}`},
			want:   clientError{502, "M_UNKNOWN", "remote.test answered 400 M_MISSING_PARAM: no room_version", nil},
		},
		{
			name:   "bad JSON is this server's request",
			answer: remoteAnswer{400, `{"errcode":"M_BAD_JSON","error":"not an event"}`},
			want:   clientError{502, "M_UNKNOWN", "remote.test answered 400 M_BAD_JSON: not an event", nil},
		},
		{
			name:     "an endpoint the remote lacks",
			answer:   remoteAnswer{404, `{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}`},
			want:     clientError{502, "M_UNKNOWN", "remote.test answered 404 M_UNRECOGNIZED: Unrecognized request", nil},
			notFound: true,
		},
		{
			name:   "this server's signature refused: not the client's 401",
			answer: remoteAnswer{401, `{"errcode":"M_UNAUTHORIZED","error":"bad signature"}`},
			want:   clientError{502, "M_UNKNOWN", "remote.test answered 401 M_UNAUTHORIZED: bad signature", nil},
		},
		{
			name:   "this server rate-limited: not the client's 429",
			answer: remoteAnswer{429, `{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":500}`},
			want:   clientError{502, "M_UNKNOWN", "remote.test answered 429 M_LIMIT_EXCEEDED: slow down", nil},
		},
		{
			name:   "a session errcode under a passed-through status",
			answer: remoteAnswer{403, `{"errcode":"M_UNKNOWN_TOKEN","error":"odd","soft_logout":true}`},
			want:   clientError{502, "M_UNKNOWN", "remote.test answered 403 M_UNKNOWN_TOKEN: odd", nil},
		},
		{
			name:   "server error",
			answer: remoteAnswer{500, `{"errcode":"M_UNKNOWN","error":"Internal server error"}`},
			want:   clientError{502, "M_UNKNOWN", "remote.test answered 500 M_UNKNOWN: Internal server error", nil},
		},
		{
			name:   "a proxy's page",
			answer: remoteAnswer{502, `<html><body>Bad Gateway</body></html>`},
			want:   clientError{502, "M_UNKNOWN", "remote.test answered 502: the answer is not a Matrix error", nil},
		},
		{
			name:   "a refusal status without a Matrix error",
			answer: remoteAnswer{403, `{"message":"denied"}`},
			want:   clientError{502, "M_UNKNOWN", "remote.test answered 403: the answer is not a Matrix error", nil},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := remoteError("remote.test", answered(t, tc.answer))
			wantClientError(t, err, tc.want)
			if got := errors.Is(err, fedapi.ErrRemoteNotFound); got != tc.notFound {
				t.Errorf("errors.Is(ErrRemoteNotFound) = %v, want %v", got, tc.notFound)
			}
			if got := errors.Is(err, fedapi.ErrRemoteUnavailable); got != (tc.want.status == http.StatusBadGateway) {
				t.Errorf("errors.Is(ErrRemoteUnavailable) = %v for a %d", got, tc.want.status)
			}
			var he gomatrix.HTTPError
			if !errors.As(err, &he) || he.Code != tc.answer.status {
				t.Errorf("the client's HTTPError is lost: %v", err)
			}
		})
	}
}

// TestRemoteErrorNoAnswer: a server that cannot be reached is 502 and
// ErrRemoteUnavailable; this server's own errors are not the remote's, and
// an error mapped once is not mapped again.
func TestRemoteErrorNoAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/_matrix/federation/v1/version", nil)
	var out map[string]any
	sent := fclient.NewClient(fclient.WithTransport(http.DefaultTransport)).DoRequestAndParseResponse(context.Background(), req, &out)
	err = remoteError("remote.test", sent)
	me, ok := httputil.AsMatrixError(err)
	if !ok || me.Status != http.StatusBadGateway || me.ErrCode != "M_UNKNOWN" ||
		!strings.HasPrefix(me.Message, "remote.test could not be reached: ") || !errors.Is(err, fedapi.ErrRemoteUnavailable) {
		t.Fatalf("unreachable: %v (%+v)", err, me)
	}

	own := errors.New("signing failed")
	if got := remoteError("remote.test", own); got != own { //nolint:errorlint // the very error, not one wrapping it
		t.Fatalf("this server's error became %v", got)
	}
	if remoteError("remote.test", nil) != nil {
		t.Fatal("no error became one")
	}
	if again := remoteError("other.test", err); again != err { //nolint:errorlint // the very error, not one wrapping it
		t.Fatalf("mapped twice: %v", again)
	}
}

// answered is the federation client's error for a request answered with a.
func answered(t *testing.T, a remoteAnswer) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/_matrix/federation/v2/invite/%21r/%24e", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	err = fclient.NewClient(fclient.WithTransport(http.DefaultTransport)).DoRequestAndParseResponse(context.Background(), req, &out)
	if err == nil {
		t.Fatalf("the client took a %d for an answer", a.status)
	}
	return err
}

// wantClientError checks err as httputil.WriteError reads it.
func wantClientError(t *testing.T, err error, want clientError) {
	t.Helper()
	me, ok := httputil.AsMatrixError(err)
	if !ok {
		t.Fatalf("%v has no Matrix meaning", err)
	}
	if me.Status != want.status || me.ErrCode != want.errcode || me.Message != want.message {
		t.Errorf("client sees %d %s %q, want %d %s %q", me.Status, me.ErrCode, me.Message, want.status, want.errcode, want.message)
	}
	if len(me.Extra) != len(want.extra) {
		t.Errorf("extra fields %v, want %v", me.Extra, want.extra)
	}
	for k, v := range want.extra {
		if me.Extra[k] != v {
			t.Errorf("%s = %v, want %v", k, me.Extra[k], v)
		}
	}
}
