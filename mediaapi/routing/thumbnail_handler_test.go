package routing_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/gif"
	_ "image/jpeg" // decoders for image.DecodeConfig
	_ "image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "golang.org/x/image/webp"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// thumbnailPath is the authenticated thumbnail path of mxc (legacy: the
// unauthenticated one) with a query.
func thumbnailPath(mxc api.MXC, legacy bool, query string) string {
	prefix := "/_matrix/client/v1/media/thumbnail/"
	if legacy {
		prefix = "/_matrix/media/v3/thumbnail/"
	}
	return prefix + mxc.ServerName + "/" + string(mxc.MediaID) + "?" + query
}

// box is a thumbnail request.
type box struct {
	w, h   int
	method string
}

func (b box) query() string { return fmt.Sprintf("width=%d&height=%d&method=%s", b.w, b.h, b.method) }

// defaultSizes are media_api.thumbnail_sizes' defaults, the spec's five.
var defaultSizes = []box{{32, 32, "crop"}, {96, 96, "crop"}, {320, 240, "scale"}, {640, 480, "scale"}, {800, 600, "scale"}}

// thumbnailInfo is what a thumbnail response holds.
type thumbnailInfo struct {
	contentType string
	w, h        int
	frames      int
}

// readThumbnail decodes a thumbnail response: its type, dimensions and
// frames, failing when the bytes are not the image the type says.
func readThumbnail(t *testing.T, res *fixture.Response) thumbnailInfo {
	t.Helper()
	res.Want(t, http.StatusOK)
	cfg, format, err := image.DecodeConfig(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatalf("thumbnail is not an image: %v", err)
	}
	info := thumbnailInfo{contentType: res.Header.Get("Content-Type"), w: cfg.Width, h: cfg.Height, frames: 1}
	if info.contentType != "image/"+format {
		t.Fatalf("Content-Type %s for a %s", info.contentType, format)
	}
	if format == "gif" {
		all, err := gif.DecodeAll(bytes.NewReader(res.Body))
		if err != nil {
			t.Fatal(err)
		}
		info.frames = len(all.Image)
	}
	return info
}

// checkBox checks a thumbnail's dimensions against the request, for a
// source of sw × sh (spec: "Thumbnails"): a source within the box comes
// back whole; crop fills the box exactly, or takes its shape when the
// source is too small for it; scale fits the box, touches it and keeps the
// source's aspect ratio.
func checkBox(t *testing.T, got thumbnailInfo, sw, sh int, want box) {
	t.Helper()
	fail := func(why string) { t.Fatalf("%v of %dx%d: got %dx%d, %s", want, sw, sh, got.w, got.h, why) }
	switch {
	case sw <= want.w && sh <= want.h:
		if got.w != sw || got.h != sh {
			fail("want the original size")
		}
	case want.method == "crop" && sw >= want.w && sh >= want.h:
		if got.w != want.w || got.h != want.h {
			fail("want the box exactly")
		}
	case want.method == "crop":
		if got.w*want.h != got.h*want.w || got.w > sw || got.h > sh {
			fail("want the box's shape, no larger than the source")
		}
	default:
		if got.w > want.w || got.h > want.h || (got.w != want.w && got.h != want.h) {
			fail("want it within the box, touching it")
		}
		if d := got.w*sh - got.h*sw; d > max(sw, sh) || -d > max(sw, sh) {
			fail("want the source's aspect ratio")
		}
	}
}

// thumbnailTestdata reads a file of the thumbnail package's testdata.
func thumbnailTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "thumbnail", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestThumbnailDefaultSizes: each default size of a real upload of each
// format (recognised from its bytes, whatever the uploader declared) has
// the dimensions the spec asks for, its type and the download headers,
// with Content-Disposition inline; filename=thumbnail.<type>.
func TestThumbnailDefaultSizes(t *testing.T) {
	e := newEnv(t)
	for _, src := range []struct {
		name, declared string
		content        []byte
		w, h           int
		// own is the type its bytes are (the original is returned for a
		// box it fits in, unless animated); still the type of a
		// thumbnail made of it.
		own, still string
	}{
		{"png", "application/octet-stream", fixture.EncodePNG(t, fixture.Photo(1500, 1000)), 1500, 1000, "image/png", "image/png"},
		{"jpeg", "image/jpeg", fixture.EncodeJPEG(t, fixture.Photo(1000, 1500)), 1000, 1500, "image/jpeg", "image/jpeg"},
		{"still gif", "image/gif", fixture.GIF(t, 900, 600, 1), 900, 600, "image/gif", "image/jpeg"},
		{"animated gif", "image/gif", fixture.GIF(t, 400, 300, 3), 400, 300, "", "image/jpeg"},
		{"webp", "application/octet-stream", thumbnailTestdata(t, "photo.webp"), 120, 80, "image/webp", "image/jpeg"},
	} {
		t.Run(src.name, func(t *testing.T) {
			mxc := e.upload(t, e.alice, src.content, src.declared, "picture")
			for _, size := range defaultSizes {
				res := e.Do(t, http.MethodGet, thumbnailPath(mxc, false, size.query()), e.bob.Token, nil)
				got := readThumbnail(t, res)
				checkBox(t, got, src.w, src.h, size)
				wantType := src.still
				if src.w <= size.w && src.h <= size.h && src.own != "" {
					wantType = src.own
				}
				if got.contentType != wantType || got.frames != 1 {
					t.Fatalf("%v: %s of %d frames, want a still %s", size, got.contentType, got.frames, wantType)
				}
				checkDisposition(t, res.Header.Get("Content-Disposition"), true, "thumbnail."+strings.TrimPrefix(wantType, "image/"))
				checkSecurityHeaders(t, res.Header, false)
			}
		})
	}
}

// TestThumbnailAnimated: an animated GIF gets an animated thumbnail only
// when animated=true asks for one, and is returned itself when it is no
// larger than asked; animated=true on a still image is a still thumbnail.
func TestThumbnailAnimated(t *testing.T) {
	e := newEnv(t)
	anim := fixture.GIF(t, 400, 300, 3)
	mxc := e.upload(t, e.alice, anim, "image/gif", "")
	still := e.upload(t, e.alice, fixture.EncodePNG(t, fixture.Photo(400, 300)), "image/png", "")
	for _, tc := range []struct {
		name   string
		mxc    api.MXC
		query  string
		typ    string
		frames int
		w, h   int
	}{
		{"asked, crop", mxc, "width=96&height=96&method=crop&animated=true", "image/gif", 3, 96, 96},
		{"asked, scale (the stored size's box)", mxc, "width=200&height=200&animated=true", "image/gif", 3, 320, 240},
		{"not asked", mxc, "width=96&height=96&method=crop&animated=false", "image/jpeg", 1, 96, 96},
		{"not said", mxc, "width=96&height=96&method=crop", "image/jpeg", 1, 96, 96},
		{"asked, larger than the original", mxc, "width=640&height=480&animated=true", "image/gif", 3, 400, 300},
		{"not asked, larger than the original", mxc, "width=640&height=480", "image/jpeg", 1, 400, 300},
		{"asked of a still image", still, "width=96&height=96&method=crop&animated=true", "image/png", 1, 96, 96},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.Do(t, http.MethodGet, thumbnailPath(tc.mxc, false, tc.query), e.bob.Token, nil)
			got := readThumbnail(t, res)
			if got.contentType != tc.typ || got.frames != tc.frames || got.w != tc.w || got.h != tc.h {
				t.Fatalf("%+v, want %s of %d frames, %dx%d", got, tc.typ, tc.frames, tc.w, tc.h)
			}
		})
	}
	res := e.Do(t, http.MethodGet, thumbnailPath(mxc, false, "width=640&height=480&animated=true"), e.bob.Token, nil)
	if !bytes.Equal(res.Body, anim) {
		t.Fatal("an animation no larger than asked was not returned as uploaded")
	}
}

// TestThumbnailRefusals: what cannot be thumbnailed (400 M_UNKNOWN, 413
// over the pixel limit), bad parameters, no token, media not found.
func TestThumbnailRefusals(t *testing.T) {
	e := newEnv(t)
	small := newEnv(t, func(m *config.MediaAPI) { m.MaxThumbnailPixels = 10_000 })
	text := e.upload(t, e.alice, []byte("not a picture"), "image/png", "")
	svg := e.upload(t, e.alice, []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "image/svg+xml", "")
	bomb := e.upload(t, e.alice, thumbnailTestdata(t, "bomb.png"), "image/png", "")
	truncated := e.upload(t, e.alice, thumbnailTestdata(t, "truncated.jpg"), "image/jpeg", "")
	pic := e.upload(t, e.alice, fixture.EncodePNG(t, fixture.Photo(200, 100)), "image/png", "")
	overLimit := small.upload(t, small.alice, fixture.EncodePNG(t, fixture.Photo(200, 100)), "image/png", "")
	remote := api.MXC{ServerName: "other.example", MediaID: "abc"}
	ok := "width=32&height=32"
	for _, tc := range []struct {
		name    string
		env     *env
		path    string
		token   string
		status  int
		errcode string
	}{
		{"not an image", e, thumbnailPath(text, false, ok), e.bob.Token, 400, "M_UNKNOWN"},
		{"svg", e, thumbnailPath(svg, false, ok), e.bob.Token, 400, "M_UNKNOWN"},
		{"truncated jpeg", e, thumbnailPath(truncated, false, ok), e.bob.Token, 400, "M_UNKNOWN"},
		{"decompression bomb", e, thumbnailPath(bomb, false, ok), e.bob.Token, 413, "M_TOO_LARGE"},
		{"over max_thumbnail_pixels", small, thumbnailPath(overLimit, false, ok), small.bob.Token, 413, "M_TOO_LARGE"},
		{"no width", e, thumbnailPath(pic, false, "height=32"), e.bob.Token, 400, "M_MISSING_PARAM"},
		{"no height", e, thumbnailPath(pic, false, "width=32"), e.bob.Token, 400, "M_MISSING_PARAM"},
		{"zero width", e, thumbnailPath(pic, false, "width=0&height=32"), e.bob.Token, 400, "M_INVALID_PARAM"},
		{"negative height", e, thumbnailPath(pic, false, "width=32&height=-32"), e.bob.Token, 400, "M_INVALID_PARAM"},
		{"width not a number", e, thumbnailPath(pic, false, "width=big&height=32"), e.bob.Token, 400, "M_INVALID_PARAM"},
		{"fractional width", e, thumbnailPath(pic, false, "width=1.5&height=32"), e.bob.Token, 400, "M_INVALID_PARAM"},
		{"height past 32 bits", e, thumbnailPath(pic, false, "width=32&height=99999999999"), e.bob.Token, 400, "M_INVALID_PARAM"},
		{"unknown method", e, thumbnailPath(pic, false, ok+"&method=stretch"), e.bob.Token, 400, "M_INVALID_PARAM"},
		{"animated not a boolean", e, thumbnailPath(pic, false, ok+"&animated=yes"), e.bob.Token, 400, "M_INVALID_PARAM"},
		{"timeout_ms not a number", e, thumbnailPath(pic, false, ok+"&timeout_ms=soon"), e.bob.Token, 400, "M_INVALID_PARAM"},
		{"no token", e, thumbnailPath(pic, false, ok), "", 401, "M_MISSING_TOKEN"},
		{"bad token", e, thumbnailPath(pic, false, ok), "nope", 401, "M_UNKNOWN_TOKEN"},
		{"no token, no parameters", e, thumbnailPath(pic, false, ""), "", 401, "M_MISSING_TOKEN"},
		{"unknown media", e, thumbnailPath(api.MXC{ServerName: e.ServerName, MediaID: "nope"}, false, ok), e.bob.Token, 404, "M_NOT_FOUND"},
		{"remote media (no federation)", e, thumbnailPath(remote, false, ok), e.bob.Token, 404, "M_NOT_FOUND"},
		{"bad media ID", e, "/_matrix/client/v1/media/thumbnail/test.local/a.b?" + ok, e.bob.Token, 400, "M_INVALID_PARAM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env.Do(t, http.MethodGet, tc.path, tc.token, nil).Want(t, tc.status, tc.errcode)
		})
	}
}

// TestLegacyThumbnails: the unauthenticated path follows the download's
// rules: served while enabled, not at all when turned off, and not for
// media stored since the freeze.
func TestLegacyThumbnails(t *testing.T) {
	picture := fixture.EncodePNG(t, fixture.Photo(300, 200))
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		on := newEnvOn(t, db)
		mxc := on.upload(t, on.alice, picture, "image/png", "")
		res := on.Do(t, http.MethodGet, thumbnailPath(mxc, true, "width=32&height=32"), "", nil)
		checkBox(t, readThumbnail(t, res), 300, 200, box{32, 32, "scale"})
		checkSecurityHeaders(t, res.Header, true)
	})

	off := newEnv(t, func(m *config.MediaAPI) { m.LegacyMedia.Enabled = false })
	mxc := off.upload(t, off.alice, picture, "image/png", "")
	off.Do(t, http.MethodGet, thumbnailPath(mxc, true, "width=32&height=32"), "", nil).Want(t, http.StatusNotFound, "M_NOT_FOUND")
	off.Do(t, http.MethodGet, thumbnailPath(mxc, false, "width=32&height=32"), off.bob.Token, nil).Want(t, http.StatusOK)

	frozen := newEnv(t, func(m *config.MediaAPI) {
		m.LegacyMedia.FrozenAfter = time.Now().Add(-time.Hour).Format(time.RFC3339)
	})
	mxc = frozen.upload(t, frozen.alice, picture, "image/png", "")
	frozen.Do(t, http.MethodGet, thumbnailPath(mxc, true, "width=32&height=32"), "", nil).Want(t, http.StatusNotFound, "M_NOT_FOUND")
	frozen.Do(t, http.MethodGet, thumbnailPath(mxc, false, "width=32&height=32"), frozen.bob.Token, nil).Want(t, http.StatusOK)
}

// thumbnailRows lists the stored thumbnails of mxc as "WxH method
// animated".
func (e *env) thumbnailRows(t testing.TB, mxc api.MXC) []string {
	t.Helper()
	rows, err := e.DB.Query(context.Background(), `SELECT width, height, method, animated FROM mediaapi_thumbnails
		WHERE origin = $1 AND media_id = $2 ORDER BY width, height, method, animated`, mxc.ServerName, mxc.MediaID)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var w, h int
		var method string
		var animated bool
		if err := rows.Scan(&w, &h, &method, &animated); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%dx%d %s %t", w, h, method, animated))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitForThumbnails polls (for at most 30 s) until mxc has n stored
// thumbnails, and returns them.
func (e *env) waitForThumbnails(t testing.TB, mxc api.MXC, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows := e.thumbnailRows(t, mxc)
		if len(rows) >= n {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d thumbnails after 30 s, want %d: %v", mxc, len(rows), n, rows)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// thumbnailsMade is myelin_media_thumbnails_total for source.
func (e *env) thumbnailsMade(t testing.TB, source string) float64 {
	t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "myelin_media_thumbnails_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == source {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestThumbnailsPregeneratedAndOnDemand: an uploaded image gets the
// default sizes in the background (those it is larger than); a non-image
// gets none; another size is made when first asked for, once for any
// number of concurrent requests (one row, one file), and served from the
// store afterwards.
func TestThumbnailsPregeneratedAndOnDemand(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnvOn(t, db)
		mxc := e.upload(t, e.alice, fixture.EncodePNG(t, fixture.Photo(1600, 1200)), "image/png", "")
		want := []string{"32x32 crop false", "96x96 crop false", "320x240 scale false", "640x480 scale false", "800x600 scale false"}
		if got := e.waitForThumbnails(t, mxc, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("pre-generated %v, want %v", got, want)
		}
		small := e.upload(t, e.alice, fixture.EncodePNG(t, fixture.Photo(500, 400)), "image/png", "")
		text := e.upload(t, e.alice, []byte("words"), "text/plain", "")
		e.waitForThumbnails(t, small, 3)

		stored, _ := e.files(t)
		const requests = 8
		onDemand := thumbnailPath(mxc, false, "width=1000&height=500&method=crop")
		var wg sync.WaitGroup
		responses := make([]*fixture.Response, requests)
		for i := range requests {
			wg.Go(func() { responses[i] = e.DoRequest(t, e.request(http.MethodGet, onDemand, e.bob.Token, "", nil)) })
		}
		wg.Wait()
		for _, res := range responses {
			if got := readThumbnail(t, res); got.w != 1000 || got.h != 500 || !bytes.Equal(res.Body, responses[0].Body) {
				t.Fatalf("concurrent on-demand thumbnails differ: %+v", got)
			}
		}
		e.Do(t, http.MethodGet, onDemand, e.bob.Token, nil).Want(t, http.StatusOK)
		after, _ := e.files(t)
		if made := e.thumbnailsMade(t, "request"); made != 1 || len(after) != len(stored)+1 {
			t.Fatalf("%d concurrent requests made the thumbnail %v times, %d new files", requests, made, len(after)-len(stored))
		}
		if rows := e.thumbnailRows(t, mxc); len(rows) != 6 || rows[5] != "1000x500 crop false" {
			t.Fatalf("rows after the on-demand size: %v", rows)
		}

		// Every job done: the small image got the sizes it is larger than,
		// the text none, and nothing was made on request but the one.
		if err := e.media.Close(); err != nil {
			t.Fatal(err)
		}
		if got := e.thumbnailRows(t, small); fmt.Sprint(got) != "[32x32 crop false 96x96 crop false 320x240 scale false]" {
			t.Fatalf("a 500x400 image got %v", got)
		}
		if got := e.thumbnailRows(t, text); len(got) != 0 {
			t.Fatalf("text got thumbnails: %v", got)
		}
		if made := e.thumbnailsMade(t, "upload"); made != 8 {
			t.Fatalf("%v thumbnails pre-generated, want 8", made)
		}
	})
}

// TestThumbnailsServeStoredSizes: a request a pre-generated size answers
// gets that size (at least as large as asked, of the request's shape for
// crop), and one no stored size answers gets its own.
func TestThumbnailsServeStoredSizes(t *testing.T) {
	e := newEnv(t)
	mxc := e.upload(t, e.alice, fixture.EncodeJPEG(t, fixture.Photo(2000, 1500)), "image/jpeg", "")
	e.waitForThumbnails(t, mxc, len(defaultSizes))
	for _, tc := range []struct {
		query string
		w, h  int
	}{
		{"width=24&height=24&method=crop", 32, 32},
		{"width=50&height=50&method=crop", 96, 96},
		{"width=100&height=50&method=crop", 100, 50}, // no stored size of its shape
		{"width=300&height=200", 320, 240},
		{"width=600&height=600", 800, 600},
		{"width=1000&height=1000", 1000, 750}, // larger than every stored size
	} {
		got := readThumbnail(t, e.Do(t, http.MethodGet, thumbnailPath(mxc, false, tc.query), e.bob.Token, nil))
		if got.w != tc.w || got.h != tc.h {
			t.Fatalf("%s: %dx%d, want %dx%d", tc.query, got.w, got.h, tc.w, tc.h)
		}
	}
	if made := e.thumbnailsMade(t, "request"); made != 2 {
		t.Fatalf("%v thumbnails made on request, want 2", made)
	}
}
