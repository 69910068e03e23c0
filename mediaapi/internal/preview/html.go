package preview

import (
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// Bounds of the HTML reading, besides Config.MaxBytes on the bytes read.
const (
	// maxTokens: how many tokens are read looking for the end of the head.
	// A head has a few dozen; a page without one is not read to its end.
	maxTokens = 10000
	// maxProperties: how many og:* (and twitter:*) properties are kept.
	maxProperties = 64
	// maxKeyLength: longer property names are ignored.
	maxKeyLength = 64
	// maxValueRunes: longer values are cut there in the answer.
	maxValueRunes = 1000
)

// head is what a page's head says about it.
type head struct {
	og          map[string]string // og:* properties, the first of each name
	twitter     map[string]string // twitter:* properties, the first of each name
	title       string            // <title>
	description string            // <meta name="description">
	base        string            // <base href>
}

// parseHead reads the head of an HTML document from r, decoding it with
// the charset of contentType (the Content-Type header), a byte order mark
// or a <meta charset> in its first 1024 bytes (the HTML standard's
// prescan, golang.org/x/net/html/charset), else as UTF-8 when its start is
// valid UTF-8 and as windows-1252 otherwise. It stops at </head> or
// <body>, after maxTokens tokens, or at the end of r; an error of r other
// than io.EOF is returned.
func parseHead(r io.Reader, contentType string) (head, error) {
	h := head{og: map[string]string{}, twitter: map[string]string{}}
	decoded, err := charset.NewReader(r, contentType)
	if errors.Is(err, io.EOF) {
		return h, nil // an empty page
	} else if err != nil {
		return h, err
	}
	z := html.NewTokenizer(decoded)
	for range maxTokens {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return h, err
			}
			return h, nil
		case html.StartTagToken, html.SelfClosingTagToken:
			if done := h.startTag(z, tt); done {
				return h, nil
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); atom.Lookup(name) == atom.Head {
				return h, nil
			}
		}
	}
	return h, nil
}

// startTag takes what a start tag of the head holds; done is true at
// <body>, where the head has ended.
func (h *head) startTag(z *html.Tokenizer, tt html.TokenType) (done bool) {
	name, hasAttr := z.TagName()
	switch atom.Lookup(name) {
	case atom.Body:
		return true
	case atom.Title:
		if tt == html.StartTagToken && h.title == "" && z.Next() == html.TextToken {
			h.title = clean(string(z.Text()))
		}
	case atom.Meta:
		if hasAttr {
			a := attributes(z)
			h.meta(a["property"], a["name"], a["content"])
		}
	case atom.Base:
		if hasAttr && h.base == "" {
			h.base = strings.TrimSpace(attributes(z)["href"])
		}
	}
	return false
}

// attributes are the tag's attributes by (lower-case) name, the first of
// each.
func attributes(z *html.Tokenizer) map[string]string {
	out := map[string]string{}
	for {
		key, val, more := z.TagAttr()
		if _, seen := out[string(key)]; !seen {
			out[string(key)] = string(val)
		}
		if !more {
			return out
		}
	}
}

// meta takes a <meta>: OpenGraph properties are written with property=,
// though many sites use name=; Twitter cards and the description with
// name=. The first non-empty value of each name counts. Values are kept
// short, so a head of huge attributes holds little memory.
func (h *head) meta(property, name, content string) {
	key := strings.ToLower(strings.TrimSpace(property))
	if key == "" {
		key = strings.ToLower(strings.TrimSpace(name))
	}
	content = clean(content)
	if len(content) > maxURLLength { // kept short: an image URL that long is no use, text is cut anyway
		if slices.Contains(imageKeys, key) {
			return
		}
		content = shorten(content)
	}
	switch {
	case content == "" || len(key) > maxKeyLength:
	case strings.HasPrefix(key, "og:"):
		setFirst(h.og, key, content)
	case strings.HasPrefix(key, "twitter:"):
		setFirst(h.twitter, key, content)
	case key == "description" && h.description == "":
		h.description = content
	}
}

// setFirst sets m[key] unless it is set or m is full.
func setFirst(m map[string]string, key, value string) {
	if _, ok := m[key]; !ok && len(m) < maxProperties {
		m[key] = value
	}
}

// clean makes text from a page fit for an answer: valid UTF-8, runs of
// white space (line breaks in titles) made one space, trimmed.
func clean(s string) string {
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
}

// shorten cuts s to at most maxValueRunes runes, ending it with "…" when
// cut.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxValueRunes {
		return s
	}
	i := 0
	for range maxValueRunes - 1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// imageKeys are the properties that may name a page's image, in order of
// preference; og:image and its URL forms are removed from the OpenGraph
// data (ImageURL replaces them).
var (
	imageKeys   = []string{"og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"}
	ogImageURLs = []string{"og:image", "og:image:url", "og:image:secure_url"}
)

// openGraph is the page's OpenGraph data, with Twitter cards, the title
// and the description standing in for og:title and og:description when a
// page lacks them, and the absolute URL of its image (resolved against
// pageURL and <base href>; "" if none is a usable http(s) URL).
func (h head) openGraph(pageURL *url.URL) (og map[string]string, imageURL string) {
	og = make(map[string]string, len(h.og)+2)
	for k, v := range h.og {
		og[k] = v
	}
	fallback(og, "og:title", h.twitter["twitter:title"], h.title)
	fallback(og, "og:description", h.twitter["twitter:description"], h.description)
	imageURL = h.image(pageURL)
	for _, k := range ogImageURLs {
		delete(og, k)
	}
	for k, v := range og {
		og[k] = shorten(v)
	}
	return og, imageURL
}

// fallback sets og[key] to the first non-empty candidate if it is unset.
func fallback(og map[string]string, key string, candidates ...string) {
	if og[key] != "" {
		return
	}
	for _, c := range candidates {
		if c != "" {
			og[key] = c
			return
		}
	}
}

// image is the absolute URL of the first image property that resolves to
// an http or https URL.
func (h head) image(pageURL *url.URL) string {
	base := pageURL
	if h.base != "" {
		if b, err := pageURL.Parse(h.base); err == nil {
			base = b
		}
	}
	for _, k := range imageKeys {
		ref := h.og[k]
		if strings.HasPrefix(k, "twitter:") {
			ref = h.twitter[k]
		}
		if ref == "" {
			continue
		}
		u, err := base.Parse(ref)
		if err != nil || checkURL(u) != nil {
			continue
		}
		u.Fragment, u.RawFragment = "", ""
		if s := u.String(); len(s) <= maxURLLength {
			return s
		}
	}
	return ""
}
