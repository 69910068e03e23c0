package internal

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/storage"
	"github.com/myelin-im/myelin/test/fixture"
)

// uploadImage uploads content as alice with a generous size limit.
func (e *env) uploadImage(t *testing.T, content []byte) *api.Metadata {
	t.Helper()
	md, err := e.Upload(context.Background(), Upload{Uploader: alice, Body: bytes.NewReader(content), ContentLength: int64(len(content))})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return md
}

// thumbnailRows is how many thumbnails origin's id has stored.
func (e *env) thumbnailRows(t testing.TB, origin string, id api.MediaID) int {
	t.Helper()
	rows, err := e.store.Thumbnails(context.Background(), origin, id)
	if err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

// bigUploads lets an env take images of several MiB.
func bigUploads(o *Options) { o.MaxUploadBytes = 64 << 20 }

// TestUploadAnswersBeforeThumbnails: with every thumbnail slot taken, an
// upload is still answered, with no thumbnail made yet; they come once a
// slot is free. Uploads the thumbnailer refuses (a decompression bomb, a
// truncated JPEG) succeed all the same.
func TestUploadAnswersBeforeThumbnails(t *testing.T) {
	e := newEnv(t, sqltest.Open(t, sqlutil.SQLite), bigUploads)
	for range cap(e.thumbs.slots) {
		e.thumbs.slots <- struct{}{}
	}
	picture := fixture.EncodePNG(t, fixture.Photo(1000, 800))
	uploaded := make(chan *api.Metadata, 1)
	go func() {
		md, err := e.Upload(context.Background(), Upload{Uploader: alice, Body: bytes.NewReader(picture), ContentLength: -1})
		if err != nil {
			t.Error(err)
		}
		uploaded <- md
	}()
	var md *api.Metadata
	select {
	case md = <-uploaded:
	case <-time.After(30 * time.Second):
		t.Fatal("the upload waited for its thumbnails")
	}
	if md == nil || e.thumbnailRows(t, server, md.MediaID) != 0 {
		t.Fatal("thumbnails made while every slot was taken")
	}
	for range cap(e.thumbs.slots) {
		e.thumbs.release()
	}
	for _, name := range []string{"bomb.png", "truncated.jpg"} {
		b, err := os.ReadFile(filepath.Join("thumbnail", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		e.uploadImage(t, b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.thumbnailRows(t, server, md.MediaID) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d thumbnails 30 s after the slots were freed", e.thumbnailRows(t, server, md.MediaID))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseStopsWaitingThumbnails: Close does not wait for a slot that
// would never come; what was waiting is dropped.
func TestCloseStopsWaitingThumbnails(t *testing.T) {
	e := newEnv(t, sqltest.Open(t, sqlutil.SQLite))
	for range cap(e.thumbs.slots) {
		e.thumbs.slots <- struct{}{}
	}
	md := e.uploadImage(t, fixture.EncodePNG(t, fixture.Photo(200, 200)))
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close waited for the thumbnail slots")
	}
	if e.thumbnailRows(t, server, md.MediaID) != 0 {
		t.Fatal("thumbnails made after Close")
	}
}

// TestLocalThumbnail: what the federation thumbnail endpoint gets of
// api.MediaAPI.
func TestLocalThumbnail(t *testing.T) {
	e := newEnv(t, sqltest.Open(t, sqlutil.SQLite), bigUploads)
	ctx := context.Background()
	pic := e.uploadImage(t, fixture.EncodePNG(t, fixture.Photo(400, 300)))
	text := e.upload(t, alice, []byte("text"))
	created, _, err := e.Create(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	md, content, err := e.LocalThumbnail(ctx, pic.MediaID, api.ThumbnailSpec{Width: 50, Height: 50})
	if err != nil {
		t.Fatal(err)
	}
	thumb := readAll(t, content)
	if md.ContentType != "image/png" || md.Size != int64(len(thumb)) || md.SHA256 != hexSum(thumb) || md.SHA256 == pic.SHA256 {
		t.Fatalf("thumbnail metadata %+v", md)
	}
	md, content, err = e.LocalThumbnail(ctx, pic.MediaID, api.ThumbnailSpec{Width: 400, Height: 300, Method: api.ThumbnailCrop})
	if err != nil || md.SHA256 != pic.SHA256 || hexSum(readAll(t, content)) != pic.SHA256 {
		t.Fatalf("an image no larger than asked: %+v, %v; want the original", md, err)
	}
	invalid := func(err error) bool {
		var e *api.InvalidParamError
		return errors.As(err, &e)
	}
	for _, tc := range []struct {
		name string
		id   api.MediaID
		want api.ThumbnailSpec
		is   func(error) bool
	}{
		{"not an image", text.MediaID, api.ThumbnailSpec{Width: 32, Height: 32}, is(api.ErrCannotThumbnail)},
		{"unknown", "nope", api.ThumbnailSpec{Width: 32, Height: 32}, is(api.ErrNotFound)},
		{"not uploaded yet", created.MediaID, api.ThumbnailSpec{Width: 32, Height: 32}, is(api.ErrNotYetUploaded)},
		{"no width", pic.MediaID, api.ThumbnailSpec{Height: 32}, invalid},
		{"bad method", pic.MediaID, api.ThumbnailSpec{Width: 32, Height: 32, Method: "fill"}, invalid},
	} {
		if _, _, err := e.LocalThumbnail(ctx, tc.id, tc.want); !tc.is(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// mediaFetcher is the other end of remote media in these tests: another
// media component in this process, reached through its api.MediaAPI as
// the federation media endpoints reach it. Without thumbnails it answers
// as a server that does not make them.
type mediaFetcher struct {
	origin     api.MediaAPI
	thumbnails bool
	asked      atomic.Int32
}

func (f *mediaFetcher) FetchMedia(ctx context.Context, m api.MXC) (*api.RemoteMedia, error) {
	md, content, err := f.origin.OpenLocal(ctx, m.MediaID)
	if err != nil {
		return nil, err
	}
	return &api.RemoteMedia{ContentType: md.ContentType, UploadName: md.UploadName, Size: md.Size, Body: content}, nil
}

func (f *mediaFetcher) FetchThumbnail(ctx context.Context, m api.MXC, want api.ThumbnailSpec) (*api.RemoteMedia, error) {
	f.asked.Add(1)
	if !f.thumbnails {
		return nil, api.ErrNotFound
	}
	md, content, err := f.origin.LocalThumbnail(ctx, m.MediaID, want)
	if err != nil {
		return nil, err
	}
	return &api.RemoteMedia{ContentType: md.ContentType, Size: md.Size, Body: content}, nil
}

// cacheRemote stores content as media of origin, as a fetch of remote
// media leaves it.
func (e *env) cacheRemote(t *testing.T, origin string, id api.MediaID, content []byte) {
	t.Helper()
	r, err := e.files.receive(bytes.NewReader(content), int64(len(content)), api.ErrTooLarge)
	if err != nil {
		t.Fatal(err)
	}
	md := &api.Metadata{Origin: origin, MediaID: id, ContentType: "image/png", Size: r.size, SHA256: r.sha256, CreatedTS: e.nowMs()}
	record := func() error { return e.store.InsertMedia(context.Background(), md, 0) }
	if _, err := e.files.keep([]*received{r}, record, func(string) (bool, error) { return true, nil }); err != nil {
		t.Fatal(err)
	}
}

// TestRemoteThumbnails: a thumbnail of another server's media is asked of
// that server once and served from the store after; when that server makes
// none, the original (cached) is thumbnailed here; without federation,
// media not cached is not found.
func TestRemoteThumbnails(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		origin := newEnv(t, sqltest.Open(t, sqlutil.SQLite), bigUploads, func(o *Options) { o.ServerName = "origin.test" })
		fetcher := &mediaFetcher{origin: origin, thumbnails: true}
		e := newEnv(t, db, bigUploads, func(o *Options) { o.Remote = fetcher })
		pic := origin.uploadImage(t, fixture.EncodePNG(t, fixture.Photo(600, 400)))
		want := api.ThumbnailSpec{Width: 96, Height: 96, Method: api.ThumbnailCrop}
		_, direct, err := origin.LocalThumbnail(ctx, pic.MediaID, want)
		if err != nil {
			t.Fatal(err)
		}
		wantBytes := readAll(t, direct)
		for range 2 {
			md, content, err := e.Thumbnail(ctx, pic.MXC(), want, 0)
			if err != nil || !bytes.Equal(readAll(t, content), wantBytes) || md.ContentType != "image/png" || md.Origin != "origin.test" {
				t.Fatalf("remote thumbnail: %+v, %v", md, err)
			}
		}
		stored, err := e.store.Thumbnail(ctx, storage.ThumbnailKey{Origin: "origin.test", MediaID: pic.MediaID, Spec: want})
		if err != nil || fetcher.asked.Load() != 1 || stored.SHA256 != hexSum(wantBytes) {
			t.Fatalf("asked the origin %d times; stored %+v, %v", fetcher.asked.Load(), stored, err)
		}

		fetcher.thumbnails = false
		other := fixture.EncodePNG(t, fixture.Photo(500, 500))
		e.cacheRemote(t, "origin.test", "cached", other)
		md, content, err := e.Thumbnail(ctx, api.MXC{ServerName: "origin.test", MediaID: "cached"}, want, 0)
		if err != nil || md.ContentType != "image/png" || hexSum(readAll(t, content)) == hexSum(other) {
			t.Fatalf("thumbnail of a cached original: %+v, %v", md, err)
		}
		if e.thumbnailRows(t, "origin.test", "cached") != 1 {
			t.Fatal("the thumbnail made here of a remote original was not stored under its origin")
		}

		local := newEnv(t, sqltest.Open(t, sqlutil.SQLite))
		if _, _, err := local.Thumbnail(ctx, pic.MXC(), want, 0); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("remote media without federation: %v", err)
		}
	})
}
