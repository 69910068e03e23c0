package federationapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
	mediasapi "github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestRemoteMediaCache: a client's download of another server's media is
// fetched from its origin once and kept: under the origin's name, with no
// uploader, the fetch time as its time; later downloads, and requests
// that arrive together, are served from the copy. allow_remote=false
// serves a copy but never fetches.
func TestRemoteMediaCache(t *testing.T) {
	local, origin := newMediaPair(t)
	ctx := context.Background()
	content, _ := io.ReadAll(fixture.Generated(300<<10, 4))
	mxc := origin.upload(t, content, "image/png", "name with spaces.png")
	before := time.Now().UnixMilli()

	for i := range 2 {
		res := local.download(t, mxc, false, "")
		res.Want(t, http.StatusOK)
		if !bytes.Equal(res.Body, content) || res.Header.Get("Content-Type") != "image/png" ||
			res.Header.Get("Content-Disposition") != `inline; filename="name with spaces.png"` {
			t.Fatalf("download %d: %d bytes, %q, %q",
				i+1, len(res.Body), res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
		}
		if asked := origin.askedFor("/download/"); len(asked) != 1 {
			t.Fatalf("after download %d the origin was asked %d times, want once", i+1, len(asked))
		}
	}
	md, err := local.media.Metadata(ctx, mxc, 0)
	if err != nil || md.Origin != origin.ServerName || md.Uploader != "" || md.CreatedTS < before || md.Size != int64(len(content)) {
		t.Fatalf("the copy's metadata %+v (%v): want remote.test's, no uploader, made at the fetch", md, err)
	}

	t.Run("requests together fetch once", func(t *testing.T) {
		other := origin.upload(t, []byte("wanted by many"), "text/plain", "")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, c, err := local.media.Open(ctx, other, 0)
				if err == nil {
					_ = c.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if asked := origin.askedFor(string(other.MediaID)); len(asked) != 1 {
			t.Fatalf("the origin was asked %d times, want once", len(asked))
		}
	})
	t.Run("allow_remote=false", func(t *testing.T) {
		other := origin.upload(t, []byte("not fetched yet"), "text/plain", "")
		local.download(t, other, false, "?allow_remote=false").Want(t, http.StatusNotFound, "M_NOT_FOUND")
		if asked := origin.askedFor(string(other.MediaID)); len(asked) != 0 {
			t.Fatalf("allow_remote=false fetched: %v", asked)
		}
		local.download(t, other, false, "").Want(t, http.StatusOK)
		local.download(t, other, false, "?allow_remote=false").Want(t, http.StatusOK)
	})
	t.Run("unknown remote media", func(t *testing.T) {
		local.download(t, mediasapi.MXC{ServerName: origin.ServerName, MediaID: "nosuchmedia"}, false, "").
			Want(t, http.StatusNotFound, "M_NOT_FOUND")
	})
}

// TestRemoteMediaFreeze: for the frozen unauthenticated paths, remote
// media is new when this server's copy was made after the freeze (spec:
// content repository, "Client behaviour"), however old it is on its
// origin; a frozen path does not fetch (the copy would be frozen). Before
// the freeze, the unauthenticated path fetches as the other does.
func TestRemoteMediaFreeze(t *testing.T) {
	frozen := func(when string) func(*config.MediaAPI) {
		return func(c *config.MediaAPI) { c.LegacyMedia.FrozenAfter = when }
	}
	t.Run("frozen", func(t *testing.T) {
		local, origin := newMediaPair(t, frozen("2020-01-01T00:00:00Z"))
		mxc := origin.upload(t, []byte("uploaded there"), "text/plain", "")
		local.download(t, mxc, true, "").Want(t, http.StatusNotFound, "M_NOT_FOUND")
		if asked := origin.askedFor("/download/"); len(asked) != 0 {
			t.Fatalf("a frozen path fetched: %v", asked)
		}
		local.download(t, mxc, false, "").Want(t, http.StatusOK)
		local.download(t, mxc, true, "").Want(t, http.StatusNotFound, "M_NOT_FOUND")
	})
	t.Run("not frozen yet", func(t *testing.T) {
		local, origin := newMediaPair(t, frozen(time.Now().Add(time.Hour).Format(time.RFC3339)))
		mxc := origin.upload(t, []byte("uploaded there"), "text/plain", "")
		res := local.download(t, mxc, true, "")
		res.Want(t, http.StatusOK)
		if string(res.Body) != "uploaded there" {
			t.Fatalf("body %q", res.Body)
		}
	})
}
