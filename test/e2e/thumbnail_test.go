package e2e

import (
	"bytes"
	"image"
	"image/gif"
	_ "image/jpeg" // decoders for image.DecodeConfig
	_ "image/png"
	"io"
	"mime"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/test/fixture"
)

// thumbnail fetches a thumbnail as mautrix does and decodes it: its type,
// dimensions and frames, and the Content-Disposition's type and file name.
func thumbnail(t *testing.T, c *mautrix.Client, mxc id.ContentURI, w, h int, extra mautrix.DownloadThumbnailExtra) thumbInfo {
	t.Helper()
	res, err := c.DownloadThumbnail(ctx(t), mxc, h, w, extra) // mautrix takes the height first
	if err != nil {
		t.Fatalf("thumbnail %dx%d %+v of %s: %v", w, h, extra, mxc, err)
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("thumbnail %dx%d of %s is not an image: %v", w, h, mxc, err)
	}
	disposition, params, _ := mime.ParseMediaType(res.Header.Get("Content-Disposition"))
	info := thumbInfo{
		contentType: res.Header.Get("Content-Type"),
		format:      format,
		w:           cfg.Width,
		h:           cfg.Height,
		frames:      1,
		disposition: disposition + " " + params["filename"],
	}
	if format == "gif" {
		all, err := gif.DecodeAll(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		info.frames = len(all.Image)
	}
	return info
}

type thumbInfo struct {
	contentType, format string
	w, h, frames        int
	disposition         string
}

// TestThumbnails: mautrix uploads a photograph and an animation to a real
// server and fetches thumbnails of them: the sizes and types asked for,
// inline as thumbnail.<type>, animated only when asked; a file that is
// not an image cannot be thumbnailed; the legacy path serves them too.
func TestThumbnails(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "password-alice")
		bob := register(t, srv, "bob", "password-bob")

		photo, err := alice.UploadBytesWithName(ctx(t), fixture.EncodeJPEG(t, fixture.Photo(1600, 1200)), "image/jpeg", "photo.jpg")
		if err != nil {
			t.Fatal(err)
		}
		anim, err := alice.UploadBytes(ctx(t), fixture.GIF(t, 300, 200, 4), "image/gif")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			mxc   id.ContentURI
			w, h  int
			extra mautrix.DownloadThumbnailExtra
			want  thumbInfo
		}{
			{"crop", photo.ContentURI, 96, 96, mautrix.DownloadThumbnailExtra{Method: "crop"},
				thumbInfo{"image/jpeg", "jpeg", 96, 96, 1, "inline thumbnail.jpeg"}},
			{"scale", photo.ContentURI, 640, 480, mautrix.DownloadThumbnailExtra{Method: "scale"},
				thumbInfo{"image/jpeg", "jpeg", 640, 480, 1, "inline thumbnail.jpeg"}},
			{"no method (scale)", photo.ContentURI, 1000, 1000, mautrix.DownloadThumbnailExtra{},
				thumbInfo{"image/jpeg", "jpeg", 1000, 750, 1, "inline thumbnail.jpeg"}},
			{"animated", anim.ContentURI, 96, 96, mautrix.DownloadThumbnailExtra{Method: "crop", Animated: true},
				thumbInfo{"image/gif", "gif", 96, 96, 4, "inline thumbnail.gif"}},
			{"animation, still", anim.ContentURI, 96, 96, mautrix.DownloadThumbnailExtra{Method: "crop"},
				thumbInfo{"image/jpeg", "jpeg", 96, 96, 1, "inline thumbnail.jpeg"}},
		} {
			if got := thumbnail(t, bob, tc.mxc, tc.w, tc.h, tc.extra); got != tc.want {
				t.Fatalf("%s: %+v, want %+v", tc.name, got, tc.want)
			}
		}

		text, err := alice.UploadBytes(ctx(t), []byte("not a picture"), "image/png")
		if err != nil {
			t.Fatal(err)
		}
		_, err = bob.DownloadThumbnail(ctx(t), text.ContentURI, 32, 32)
		wantMatrixError(t, err, http.StatusBadRequest, "M_UNKNOWN")

		legacy := srv.ClientURL() + "/_matrix/media/r0/thumbnail/" + photo.ContentURI.Homeserver + "/" + photo.ContentURI.FileID +
			"?width=32&height=32&method=crop"
		res, err := http.Get(legacy)
		if err != nil {
			t.Fatal(err)
		}
		drain(res)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("legacy thumbnail: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
	})
}
