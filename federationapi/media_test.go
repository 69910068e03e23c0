package federationapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/fixture"
)

// TestMediaEndpoints: GET /_matrix/federation/v1/media/download and
// .../thumbnail (spec v1.11, server-server "Content Repository") answer
// signed requests only; an upload comes back as multipart/mixed of exactly
// two parts, the JSON metadata then the content with its type and file
// name; unknown media is 404, bad parameters 400, content that cannot be
// thumbnailed the spec's 400 M_UNKNOWN.
func TestMediaEndpoints(t *testing.T) {
	s := newMediaServer(t, fixture.ServerName, nil, "")
	remote := fixture.NewServer(t, "remote.test")
	knowKey(t, s.Fixture, remote)
	// Larger than the copy buffers, so the content is streamed in pieces.
	content, _ := io.ReadAll(fixture.Generated(3<<20+17, 1))
	mxc := s.upload(t, content, "application/pdf", "r\u00e9sum\u00e9 (final).pdf")
	text := s.upload(t, []byte("not an image"), "text/plain", "notes.txt")
	download := "/_matrix/federation/v1/media/download/"
	thumbnail := "/_matrix/federation/v1/media/thumbnail/"

	t.Run("an upload", func(t *testing.T) {
		got := readMediaAnswer(t, s.DoSigned(t, remote, http.MethodGet, download+string(mxc.MediaID), nil))
		if got.metadataType != "application/json" || got.metadata != "{}" {
			t.Fatalf("metadata part %q of type %q, want {} as application/json", got.metadata, got.metadataType)
		}
		if got.contentType != "application/pdf" || !bytes.Equal(got.content, content) {
			t.Fatalf("content part of type %q, %d bytes; want application/pdf, the %d bytes uploaded",
				got.contentType, len(got.content), len(content))
		}
		if want := `attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%28final%29.pdf`; got.disposition != want {
			t.Fatalf("Content-Disposition %q, want %q", got.disposition, want)
		}
	})
	t.Run("not yet uploaded, then uploaded within timeout_ms", func(t *testing.T) {
		res := s.Do(t, http.MethodPost, "/_matrix/media/v1/create", s.alice.Token, map[string]any{})
		res.Want(t, http.StatusOK)
		id := res.JSON()["content_uri"].(string)[len("mxc://"+s.ServerName+"/"):]
		s.DoSigned(t, remote, http.MethodGet, download+id+"?timeout_ms=0", nil).Want(t, http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED")
		uploaded := make(chan *fixture.Response, 1)
		go func() {
			time.Sleep(300 * time.Millisecond)
			req := httptest.NewRequest(http.MethodPut, "/_matrix/media/v3/upload/"+s.ServerName+"/"+id, bytes.NewReader([]byte("late")))
			req.Header.Set("Authorization", "Bearer "+s.alice.Token)
			uploaded <- s.DoRequest(t, req)
		}()
		got := readMediaAnswer(t, s.DoSigned(t, remote, http.MethodGet, download+id+"?timeout_ms=20000", nil))
		(<-uploaded).Want(t, http.StatusOK)
		if string(got.content) != "late" {
			t.Fatalf("content %q, want the late upload", got.content)
		}
	})
	for _, path := range []string{download + string(mxc.MediaID), thumbnail + string(text.MediaID) + "?width=32&height=32"} {
		s.Do(t, http.MethodGet, path, "", nil).Want(t, http.StatusUnauthorized, "M_UNAUTHORIZED")
	}
	s.runMediaRefusals(t, remote, []refusal{
		{name: "unknown media", path: download + "nosuchmedia", status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "not a media ID", path: download + "a.b", status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "bad timeout_ms", path: download + string(mxc.MediaID) + "?timeout_ms=soon",
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "thumbnail without a width", path: thumbnail + string(text.MediaID) + "?height=32",
			status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "thumbnail of negative size", path: thumbnail + string(text.MediaID) + "?width=-1&height=32",
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "thumbnail by an unknown method", path: thumbnail + string(text.MediaID) + "?width=32&height=32&method=stretch",
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "thumbnail, animated not a boolean", path: thumbnail + string(text.MediaID) + "?width=32&height=32&animated=1",
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "thumbnail of unknown media", path: thumbnail + "nosuchmedia?width=32&height=32",
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "thumbnail of text", path: thumbnail + string(text.MediaID) + "?width=32&height=32&method=crop",
			status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
	})
}

// runMediaRefusals sends each request signed by remote and checks the
// error it gets.
func (s *mediaServer) runMediaRefusals(t *testing.T, remote *fixture.Server, tests []refusal) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.DoSigned(t, remote, http.MethodGet, tc.path, nil).Want(t, tc.status, tc.errcode)
		})
	}
}

// TestMediaEndpointsWithoutMedia: a process without the media component
// answers the media endpoints 404.
func TestMediaEndpointsWithoutMedia(t *testing.T) {
	f := newFed(t)
	f.runRefusals(t, []refusal{
		{name: "download", path: "/_matrix/federation/v1/media/download/abc", status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "thumbnail", path: "/_matrix/federation/v1/media/thumbnail/abc?width=32&height=32",
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
	})
}
