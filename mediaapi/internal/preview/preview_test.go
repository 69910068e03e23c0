package preview

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

// pageServer serves the pages of testdata/ at /pages/<file> with the
// Content-Type given by the ct query parameter (text/html by default).
func pageServer(t *testing.T) *fixture.WebServer {
	t.Helper()
	return fixture.NewWebServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(filepath.Join("testdata", filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		ct := r.URL.Query().Get("ct")
		if ct == "" {
			ct = "text/html"
		}
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(data)
	}))
}

// ogPage is what testdata/og.html says.
var ogPage = map[string]string{
	"og:title":        "Matrix Blog Post",
	"og:description":  "This is a really cool blog post from matrix.org",
	"og:site_name":    "Matrix.org",
	"og:type":         "article",
	"og:image:width":  "48",
	"og:image:height": "48",
	"og:image:alt":    "The Matrix logo",
}

func TestPreviewOpenGraph(t *testing.T) {
	s := pageServer(t)
	f := newFetcher(t, Config{IPRangeWhitelist: loopback})
	tests := []struct {
		name  string
		path  string // {srv} is the server's URL
		og    map[string]string
		image string
	}{
		{
			name:  "og tags, relative og:image",
			path:  "/pages/og.html",
			og:    ogPage,
			image: "{srv}/img/cover.png",
		},
		{
			name: "twitter card fallback",
			path: "/pages/twitter.html",
			og: map[string]string{
				"og:title":       "Title from Twitter card",
				"og:description": "Description from Twitter card",
			},
			image: "https://images.example.org/card.jpg",
		},
		{
			name: "title and meta description fallback",
			path: "/pages/fallback.html",
			og: map[string]string{
				"og:title":       "Plain page & title",
				"og:description": "Only a meta description <here>",
			},
		},
		{
			name:  "base href",
			path:  "/pages/base.html",
			og:    map[string]string{"og:title": "Base href"},
			image: "https://cdn.example.org/assets/pictures/photo.jpg",
		},
		{
			name: "windows-1252 from <meta http-equiv>",
			path: "/pages/windows1252.html",
			og: map[string]string{
				"og:title":       "Café – crème brûlée",
				"og:description": "Prix: 5 € « très bon »",
			},
		},
		{
			name: "GBK from the Content-Type charset, data: image skipped",
			path: "/pages/gbk.html?ct=text/html%3B%20charset%3DGBK",
			og: map[string]string{
				"og:title":       "中文标题：网页预览",
				"og:description": "这是一个用GBK编码的网页。",
			},
			image: "http://static.example.cn/logo.png",
		},
		{
			name:  "XHTML",
			path:  "/pages/og.html?ct=application/xhtml%2Bxml",
			og:    ogPage,
			image: "{srv}/img/cover.png",
		},
		{
			name: "neither HTML nor an image",
			path: "/pages/og.html?ct=application/pdf",
			og:   map[string]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.Preview(context.Background(), s.URL+tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(p.OG, tc.og) {
				t.Errorf("OG = %q\nwant %q", p.OG, tc.og)
			}
			if want := strings.ReplaceAll(tc.image, "{srv}", s.URL); p.ImageURL != want {
				t.Errorf("ImageURL = %q, want %q", p.ImageURL, want)
			}
		})
	}
}

func TestPreviewImage(t *testing.T) {
	img := fixture.PNG(t, 32, 16)
	s := fixture.NewWebServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/typed.png":
			w.Header().Set("Content-Type", "image/png")
		case "/untyped": // no Content-Type: the body is sniffed
			w.Header()["Content-Type"] = nil
		case "/octet-stream":
			w.Header().Set("Content-Type", "application/octet-stream")
		case "/logo.svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			_, _ = io.WriteString(w, `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
			return
		case "/page.html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, page)
			return
		}
		_, _ = w.Write(img)
	}))
	f := newFetcher(t, Config{IPRangeWhitelist: loopback})

	for _, path := range []string{"/typed.png", "/untyped", "/octet-stream"} {
		t.Run(path, func(t *testing.T) {
			p, err := f.Preview(context.Background(), s.URL+path)
			if err != nil {
				t.Fatal(err)
			}
			if p.ImageURL != s.URL+path || len(p.OG) != 0 {
				t.Fatalf("Preview = %+v, want the image as its own preview", p)
			}
			body, ct, err := f.FetchImage(context.Background(), p.ImageURL)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = body.Close() }()
			got, err := io.ReadAll(body)
			if err != nil || ct != "image/png" || !bytes.Equal(got, img) {
				t.Fatalf("FetchImage = %d bytes of %q, %v; want the %d bytes of the PNG", len(got), ct, err, len(img))
			}
		})
	}
	for _, path := range []string{"/logo.svg", "/page.html"} {
		t.Run(path+" is not an image", func(t *testing.T) {
			_, _, err := f.FetchImage(context.Background(), s.URL+path)
			wantError(t, err, ErrNotImage, http.StatusBadGateway)
			p, err := f.Preview(context.Background(), s.URL+path)
			if err != nil || p.ImageURL != "" {
				t.Fatalf("Preview = %+v, %v; want no image", p, err)
			}
		})
	}
}

func TestResponse(t *testing.T) {
	p := &Page{OG: map[string]string{
		"og:title":        "Matrix Blog Post",
		"og:image:width":  "48",
		"og:image:height": "48",
		"og:image:alt":    "The Matrix logo",
		"og:image:type":   "image/gif",
	}}
	tests := []struct {
		name string
		img  *Image
		want string
	}{
		{
			name: "no image: every og:image property goes",
			want: `{"og:title":"Matrix Blog Post"}`,
		},
		{
			name: "stored image with its dimensions",
			img:  &Image{MXC: "mxc://example.org/abc", ContentType: "image/png", Size: 102400, Width: 64, Height: 32},
			want: `{"matrix:image:size":102400,"og:image":"mxc://example.org/abc","og:image:alt":"The Matrix logo",` +
				`"og:image:height":32,"og:image:type":"image/png","og:image:width":64,"og:title":"Matrix Blog Post"}`,
		},
		{
			name: "stored image without dimensions: the page's, as numbers",
			img:  &Image{MXC: "mxc://example.org/abc", ContentType: "image/png", Size: 10},
			want: `{"matrix:image:size":10,"og:image":"mxc://example.org/abc","og:image:alt":"The Matrix logo",` +
				`"og:image:height":48,"og:image:type":"image/png","og:image:width":48,"og:title":"Matrix Blog Post"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(p.Response(tc.img))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("Response =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestPreviewThenImage runs the whole flow the media component runs, on a
// page shaped like Complement's TestUrlPreview: the page's OpenGraph data,
// its relative image fetched, "stored" and described in the answer.
func TestPreviewThenImage(t *testing.T) {
	img := fixture.PNG(t, 279, 129)
	s := fixture.NewWebServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/test.png" {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(img)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<html prefix="og: http://ogp.me/ns#"><head><title>The Rock (1996)</title>
<meta property="og:title" content="The Rock" /><meta property="og:type" content="video.movie" />
<meta property="og:url" content="http://www.imdb.com/title/tt0117500/" /><meta property="og:image" content="test.png" />
</head><body></body></html>`)
	}))
	f := newFetcher(t, Config{IPRangeWhitelist: loopback})
	p, err := f.Preview(context.Background(), s.URL+"/test.html")
	if err != nil {
		t.Fatal(err)
	}
	body, ct, err := f.FetchImage(context.Background(), p.ImageURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = body.Close() }()
	stored, err := io.ReadAll(body) // the media component streams it into its store
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(stored))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(p.Response(&Image{
		MXC:         "mxc://hs1/preview1",
		ContentType: ct,
		Size:        int64(len(stored)),
		Width:       cfg.Width,
		Height:      cfg.Height,
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"matrix:image:size":%d,"og:image":"mxc://hs1/preview1","og:image:height":129,"og:image:type":"image/png",`+
		`"og:image:width":279,"og:title":"The Rock","og:type":"video.movie","og:url":"http://www.imdb.com/title/tt0117500/"}`, len(img))
	if string(got) != want {
		t.Fatalf("answer =\n%s\nwant\n%s", got, want)
	}
}
