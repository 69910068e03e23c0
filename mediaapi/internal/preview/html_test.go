package preview

import (
	"bytes"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzPage is the address pages are resolved against in the parser tests.
var fuzzPage = &url.URL{Scheme: "https", Host: "example.org", Path: "/a/b.html"}

// checkOpenGraph fails the test unless og and image keep the parser's
// bounds: few properties, short valid UTF-8 values, and an image URL that
// is absolute http(s) or empty.
func checkOpenGraph(t *testing.T, og map[string]string, image string) {
	t.Helper()
	if len(og) > maxProperties+2 {
		t.Fatalf("%d properties", len(og))
	}
	for k, v := range og {
		if !strings.HasPrefix(k, "og:") || len(k) > maxKeyLength {
			t.Fatalf("property %q", k)
		}
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxValueRunes || v == "" {
			t.Fatalf("%s = %q", k, v)
		}
	}
	if image == "" {
		return
	}
	u, err := url.Parse(image)
	if err != nil || checkURL(u) != nil || len(image) > maxURLLength {
		t.Fatalf("image URL %q", image)
	}
}

func TestParseHostileHTML(t *testing.T) {
	long := strings.Repeat("é", 3*maxValueRunes)
	words := strings.Repeat("b ", 1<<19)
	tests := []struct {
		name string
		html string
		want map[string]string // nil: only the bounds are checked
	}{
		{"empty", "", map[string]string{}},
		{"not HTML at all", "\x00\x01\xff\xfe binary", map[string]string{}},
		{"unterminated comment", "<head><!-- " + strings.Repeat("a", 1<<20), map[string]string{}},
		{"unterminated title", "<title>" + words, map[string]string{"og:title": shorten(strings.TrimSpace(words))}},
		{"deep nesting, no head end", strings.Repeat("<div>", 1<<17) + `<meta property="og:title" content="deep">`, map[string]string{}},
		{"many properties", strings.Repeat(`<meta property="og:x" content="1">`, 10) + manyProperties(500), nil},
		{"long value", `<meta property="og:description" content="` + long + `">`, map[string]string{"og:description": shorten(long)}},
		{"long key", `<meta property="og:` + strings.Repeat("k", 100) + `" content="v">`, map[string]string{}},
		{"invalid UTF-8", "<meta charset=utf-8><meta property=og:title content=\"a\xffb\">", map[string]string{"og:title": "a\uFFFDb"}},
		{"javascript: image", `<meta property="og:image" content="javascript:alert(1)">`, map[string]string{}},
		{"empty attributes", `<meta property content><meta property="og:title" content="ok">`, map[string]string{"og:title": "ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseHead(strings.NewReader(tc.html), "text/html")
			if err != nil {
				t.Fatal(err)
			}
			og, image := h.openGraph(fuzzPage)
			checkOpenGraph(t, og, image)
			if tc.want != nil && !maps.Equal(og, tc.want) {
				t.Fatalf("OG = %.200q, want %.200q", og, tc.want)
			}
		})
	}
}

// manyProperties is a head of n distinct og properties.
func manyProperties(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(`<meta property="og:p` + strings.Repeat("x", i%40) + string(rune('a'+i%26)) + `" content="v">`)
	}
	return b.String()
}

// FuzzParse feeds the head parser hostile HTML with any Content-Type: it
// must never panic, read past its bounds or return values outside them.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.html"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "text/html")
	}
	f.Add([]byte(`<base href="//evil/"><meta name=og:image content="../x.png">`), "text/html; charset=shift_jis")
	f.Add([]byte("\xef\xbb\xbf<title>BOM</title>"), "text/html; charset=utf-16")
	f.Add([]byte(`<meta charset="x-user-defined"><title>\x80\x81</title>`), "")
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		h, err := parseHead(bytes.NewReader(data), contentType)
		if err != nil {
			t.Fatalf("parseHead of an in-memory page: %v", err)
		}
		og, image := h.openGraph(fuzzPage)
		checkOpenGraph(t, og, image)
	})
}
