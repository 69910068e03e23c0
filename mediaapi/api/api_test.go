package api_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/mediaapi/api"
)

// TestErrorsAnswerAsClientsExpect pins what clients read for each media
// error, wrapped as the component wraps them: Complement and clients
// depend on these status codes and errcodes.
func TestErrorsAnswerAsClientsExpect(t *testing.T) {
	_, badID := api.ParseMediaID("../etc")
	for _, tc := range []struct {
		err     error
		status  int
		errcode string
	}{
		{api.ErrNotFound, 404, "M_NOT_FOUND"},
		{api.ErrTooLarge, 413, "M_TOO_LARGE"},
		{api.ErrCannotOverwrite, 409, "M_CANNOT_OVERWRITE_MEDIA"},
		{api.ErrNotYetUploaded, 504, "M_NOT_YET_UPLOADED"},
		{api.ErrTooManyPending, 429, "M_LIMIT_EXCEEDED"},
		{api.ErrQuotaExceeded, 403, "M_FORBIDDEN"},
		{api.ErrNotUploader, 403, "M_FORBIDDEN"},
		{api.ErrRemoteTooLarge, 502, "M_TOO_LARGE"},
		{api.ErrRemoteTimeout, 504, "M_NOT_YET_UPLOADED"},
		{api.InvalidParam("timeout_ms must be a number"), 400, "M_INVALID_PARAM"},
		{&api.MissingParamError{Reason: "width is required"}, 400, "M_MISSING_PARAM"},
		{badID, 400, "M_INVALID_PARAM"},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			wrapped := fmt.Errorf("storing upload: %w", tc.err)
			me, ok := httputil.AsMatrixError(wrapped)
			if !ok || !errors.Is(wrapped, tc.err) || me.Status != tc.status || me.ErrCode != tc.errcode || me.Message != tc.err.Error() {
				t.Fatalf("got %v %+v, want %d %s", ok, me, tc.status, tc.errcode)
			}
		})
	}
}

func TestParseMediaID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"AQwafuaFswefuhsfAFAgsw", true},
		{"a", true},
		{"under_score-dash09", true},
		{strings.Repeat("a", 255), true},
		{"", false},
		{strings.Repeat("a", 256), false},
		{"..", false},
		{"a/b", false},
		{"a%2Fb", false},
		{"a.b", false},
		{"a b", false},
		{"a\x00b", false},
		{"/etc/passwd", false},
		{"ünïcode", false},
		{"a~b", false},
	} {
		id, err := api.ParseMediaID(tc.id)
		if tc.ok != (err == nil) || (tc.ok && string(id) != tc.id) {
			t.Errorf("ParseMediaID(%q) = %q, %v; want ok=%v", tc.id, id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, api.ErrInvalidMXC) {
			t.Errorf("ParseMediaID(%q): %v does not wrap ErrInvalidMXC", tc.id, err)
		}
	}
}

func TestParseMXC(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		want api.MXC
		ok   bool
	}{
		{"mxc://example.org/abc", api.MXC{ServerName: "example.org", MediaID: "abc"}, true},
		{"mxc://example.org:8448/abc", api.MXC{ServerName: "example.org:8448", MediaID: "abc"}, true},
		{"mxc://127.0.0.1/abc", api.MXC{ServerName: "127.0.0.1", MediaID: "abc"}, true},
		{"mxc://[::1]:8448/abc", api.MXC{ServerName: "[::1]:8448", MediaID: "abc"}, true},
		{"https://example.org/abc", api.MXC{}, false},
		{"mxc://example.org", api.MXC{}, false},
		{"mxc://example.org/", api.MXC{}, false},
		{"mxc:///abc", api.MXC{}, false},
		{"mxc://127.0.0.1/../../../some_service/etc/passwd", api.MXC{}, false},
		{"mxc://example.org/abc/def", api.MXC{}, false},
		{"mxc://exa_mple.org/abc", api.MXC{}, false},
		{"mxc://ex ample.org/abc", api.MXC{}, false},
	} {
		got, err := api.ParseMXC(tc.uri)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseMXC(%q) = %+v, %v; want %+v ok=%v", tc.uri, got, err, tc.want, tc.ok)
		}
		if tc.ok && got.String() != tc.uri {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tc.uri)
		}
	}
}
