package federationapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/httputil"
	mediasapi "github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// wantMediaError checks that err means status and errcode to a client and
// wraps target (unless nil).
func wantMediaError(t *testing.T, err, target error, status int, errcode string) {
	t.Helper()
	me, ok := httputil.AsMatrixError(err)
	if !ok || me.Status != status || me.ErrCode != errcode || target != nil && !errors.Is(err, target) {
		t.Fatalf("error %v (%+v), want %d %s wrapping %v", err, me, status, errcode, target)
	}
}

// TestFetchMediaFromMyelin: FetchMedia and FetchThumbnail ask another
// Myelin over federation, signed; the content, its type and its file name
// arrive as uploaded there; the origin's refusals keep their meaning.
func TestFetchMediaFromMyelin(t *testing.T) {
	local, origin := newMediaPair(t)
	ctx := context.Background()
	content, _ := io.ReadAll(fixture.Generated(200<<10, 2))
	mxc := origin.upload(t, content, "image/png", "\U0001F414.png")

	rm, err := local.fed.FetchMedia(ctx, mxc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rm.Body)
	_ = rm.Body.Close()
	if err != nil || !bytes.Equal(got, content) || rm.ContentType != "image/png" || rm.UploadName != "\U0001F414.png" {
		t.Fatalf("fetched %d bytes (%v) of type %q named %q; want the %d bytes uploaded, image/png, \U0001F414.png",
			len(got), err, rm.ContentType, rm.UploadName, len(content))
	}
	if asked := origin.askedFor("/media/"); len(asked) != 1 || asked[0] != "/_matrix/federation/v1/media/download/"+string(mxc.MediaID) {
		t.Fatalf("the origin was asked for %v, want the federation download only", asked)
	}

	_, err = local.fed.FetchMedia(ctx, mediasapi.MXC{ServerName: origin.ServerName, MediaID: "nosuchmedia"})
	wantMediaError(t, err, mediasapi.ErrNotFound, http.StatusNotFound, "M_NOT_FOUND")

	// A server that knows the thumbnail endpoint and cannot thumbnail
	// text says so; its answer stands (no fallback).
	text := origin.upload(t, []byte("text"), "text/plain", "")
	_, err = local.fed.FetchThumbnail(ctx, text, mediasapi.ThumbnailSpec{Width: 32, Height: 32, Method: mediasapi.ThumbnailCrop})
	wantMediaError(t, err, nil, http.StatusBadRequest, "M_UNKNOWN")
	if asked := origin.askedFor("/thumbnail/"); len(asked) != 1 {
		t.Fatalf("the origin was asked for %v, want the federation thumbnail only", asked)
	}
}

// TestFetchMediaLimits: content over media_api.max_upload_bytes is refused
// while it streams, 502 M_TOO_LARGE (spec: content repository, "Security
// considerations"), and nothing of it is kept.
func TestFetchMediaLimits(t *testing.T) {
	local, origin := newMediaPair(t, func(c *config.MediaAPI) { c.MaxUploadBytes = 1000 })
	content, _ := io.ReadAll(fixture.Generated(4000, 3))
	mxc := origin.upload(t, content, "application/octet-stream", "big.bin")

	rm, err := local.fed.FetchMedia(context.Background(), mxc)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rm.Body)
	_ = rm.Body.Close()
	wantMediaError(t, err, mediasapi.ErrRemoteTooLarge, http.StatusBadGateway, "M_TOO_LARGE")
	if n > 1000 {
		t.Fatalf("read %d bytes, more than the 1000 allowed", n)
	}
	local.download(t, mxc, false, "").Want(t, http.StatusBadGateway, "M_TOO_LARGE")
	if files := fixture.Files(t, local.Config.MediaBasePath()); len(files) != 0 {
		t.Fatalf("the store holds %v after a refused fetch", files)
	}
}

// TestFetchMediaAnswers: how the answers other servers give are read. A
// server that predates the federation endpoints (404 M_UNRECOGNIZED, or
// 400 that is no Matrix error) is asked at the deprecated download with
// allow_remote=false; its other errors keep their meaning for clients.
func TestFetchMediaAnswers(t *testing.T) {
	f, remote := newFedAnswering(t)
	mxc := mediasapi.MXC{ServerName: "remote.test", MediaID: "abc"}
	federation := "/_matrix/federation/v1/media/download/abc"
	legacy := "/_matrix/media/v3/download/remote.test/abc"
	tests := []struct {
		name    string
		status  int
		body    string
		asked   []string
		target  error // wrapped, if not nil
		client  int
		errcode string
	}{
		{"not multipart", http.StatusOK, `{}`, []string{federation}, fedapi.ErrRemoteUnavailable, 502, "M_UNKNOWN"},
		{"not found", 404, `{"errcode":"M_NOT_FOUND","error":"no"}`, []string{federation}, mediasapi.ErrNotFound, 404, "M_NOT_FOUND"},
		{"an older server", 404, `{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}`,
			[]string{federation, legacy}, mediasapi.ErrNotFound, 404, "M_NOT_FOUND"},
		{"an unknown path, as text", 400, `Invalid Origin`, []string{federation, legacy}, fedapi.ErrRemoteUnavailable, 502, "M_UNKNOWN"},
		{"a refusal", 403, `{"errcode":"M_FORBIDDEN","error":"not for you"}`, []string{federation}, nil, 403, "M_FORBIDDEN"},
		{"too large there", 502, `{"errcode":"M_TOO_LARGE","error":"too large"}`, []string{federation},
			mediasapi.ErrRemoteTooLarge, 502, "M_TOO_LARGE"},
		{"not yet uploaded there", 504, `{"errcode":"M_NOT_YET_UPLOADED","error":"wait"}`, []string{federation},
			mediasapi.ErrNotYetUploaded, 504, "M_NOT_YET_UPLOADED"},
		{"a broken server", 500, `oops`, []string{federation}, fedapi.ErrRemoteUnavailable, 502, "M_UNKNOWN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			remote.answer(tc.status, tc.body)
			_, err := f.api.FetchMedia(context.Background(), mxc)
			wantMediaError(t, err, tc.target, tc.client, tc.errcode)
			if asked := remote.asked(); !slices.Equal(asked, tc.asked) {
				t.Fatalf("asked for %v, want %v", asked, tc.asked)
			}
		})
	}
}

// TestFetchMediaTimeout: a server that never answers is given up on when
// the fetch's time runs out: 504, which a client may retry.
func TestFetchMediaTimeout(t *testing.T) {
	f := newFedWith(t, silentPort(t), "")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := f.api.FetchMedia(ctx, mediasapi.MXC{ServerName: "remote.test", MediaID: "abc"})
	wantMediaError(t, err, mediasapi.ErrRemoteTimeout, http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED")
}

// silentPort is a loopback address that accepts connections and never
// answers, until the test ends.
func silentPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}
