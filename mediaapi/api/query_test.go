package api_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/mediaapi/api"
)

// TestParseThumbnailSpec: the spec's parameters are read; a missing size
// is 400 M_MISSING_PARAM, and what does not make sense (non-integer or
// non-positive sizes, an unknown method, a non-boolean animated) 400
// M_INVALID_PARAM.
func TestParseThumbnailSpec(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  api.ThumbnailSpec
		ok    bool
	}{
		{"width=32&height=32&method=crop", api.ThumbnailSpec{Width: 32, Height: 32, Method: api.ThumbnailCrop}, true},
		{"width=640&height=480", api.ThumbnailSpec{Width: 640, Height: 480, Method: api.ThumbnailScale}, true},
		{"width=96&height=96&method=scale&animated=true",
			api.ThumbnailSpec{Width: 96, Height: 96, Method: api.ThumbnailScale, Animated: true}, true},
		{"width=96&height=96&animated=false", api.ThumbnailSpec{Width: 96, Height: 96, Method: api.ThumbnailScale}, true},
		{"height=32", api.ThumbnailSpec{}, false},
		{"width=32", api.ThumbnailSpec{}, false},
		{"width=0&height=32", api.ThumbnailSpec{}, false},
		{"width=-32&height=32", api.ThumbnailSpec{}, false},
		{"width=3.5&height=32", api.ThumbnailSpec{}, false},
		{"width=32&height=big", api.ThumbnailSpec{}, false},
		{"width=32&height=100000", api.ThumbnailSpec{}, false},
		{"width=32&height=32&method=stretch", api.ThumbnailSpec{}, false},
		{"width=32&height=32&animated=yes", api.ThumbnailSpec{}, false},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := api.ParseThumbnailSpec(q)
		var bad *api.InvalidParamError
		var missing *api.MissingParamError
		wantMissing := !strings.Contains(tc.query, "width") || !strings.Contains(tc.query, "height")
		badKind := wantMissing && !errors.As(err, &missing) || !wantMissing && !errors.As(err, &bad)
		if tc.ok != (err == nil) || (!tc.ok && badKind) || (tc.ok && got != tc.want) {
			t.Errorf("ParseThumbnailSpec(%s) = %+v, %v; want %+v ok=%v", tc.query, got, err, tc.want, tc.ok)
		}
		if tc.ok {
			if back, err := api.ParseThumbnailSpec(got.Query()); err != nil || back != got {
				t.Errorf("%+v.Query() = %s reads back as %+v, %v", got, got.Query().Encode(), back, err)
			}
		}
	}
}

// TestParseTimeout: timeout_ms defaults to the spec's 20 s and is capped.
func TestParseTimeout(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", api.DefaultWait, true},
		{"0", 0, true},
		{"1500", 1500 * time.Millisecond, true},
		{"3600000", api.MaxWait, true},
		{"-1", 0, false},
		{"soon", 0, false},
	} {
		got, err := api.ParseTimeout(tc.v)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %v ok=%v", tc.v, got, err, tc.want, tc.ok)
		}
	}
}

// TestContentDispositionReadsBack: a file name written into a
// Content-Disposition header is read back as it was, whatever characters
// it has, and the disposition is inline only for the safe types.
func TestContentDispositionReadsBack(t *testing.T) {
	for _, name := range []string{"", "ascii", "name with spaces", "name;with;semicolons", `quo"te\\s`, "\U0001F414", "été.png"} {
		for _, ct := range []string{"image/png", "text/html"} {
			h := api.ContentDisposition(ct, name)
			if got := api.DispositionFileName(h); got != name {
				t.Errorf("%q for %q reads back as %q", h, name, got)
			}
			if inline := h == "inline" || len(h) > 7 && h[:7] == "inline;"; inline != (ct == "image/png") {
				t.Errorf("%q for %s", h, ct)
			}
		}
	}
	if got := api.DispositionFileName("attachment; filename=\"a\"; filename=\"b\""); got != "" {
		t.Errorf("a header that does not parse gives %q", got)
	}
}
