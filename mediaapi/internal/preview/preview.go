package preview

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Page is what a URL's preview says before its image is stored.
type Page struct {
	// URL is the address the content came from, after redirects.
	URL string
	// OG is the page's OpenGraph data by property name (og:title,
	// og:description, og:site_name, og:image:alt, ...), each value
	// whitespace-collapsed and at most 1000 characters. og:title and
	// og:description fall back to twitter:title / twitter:description,
	// then <title> / <meta name="description">. It never holds og:image or
	// its URL forms: the remote address is ImageURL, and the answer must
	// carry an mxc URI instead (Response). Empty, not nil, for an image
	// or for content that is neither HTML nor an image.
	OG map[string]string
	// ImageURL is the absolute http(s) URL of the page's image (og:image,
	// else twitter:image), or URL itself when the URL is an image; "" when
	// there is none. Fetch it with FetchImage.
	ImageURL string
}

// Image is the preview image as the caller stored it, for Response.
type Image struct {
	MXC         string // the mxc:// URI of the stored image
	ContentType string // its media type, as FetchImage gave it
	Size        int64  // its length in bytes
	Width       int    // its dimensions in pixels; 0 if unknown
	Height      int
}

// Preview fetches rawURL and reads its preview: the OpenGraph data of an
// HTML page (read up to Config.MaxBytes: the head comes first), or, for an
// image, the image as its own preview image. Other content has an empty
// preview. The errors wrap the package's sentinels.
func (f *Fetcher) Preview(ctx context.Context, rawURL string) (*Page, error) {
	resp, err := f.get(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.body.Close() }()
	page := &Page{URL: resp.url.String(), OG: map[string]string{}}
	switch {
	case isHTML(resp.mediaType):
		resp.body.truncate = true
		h, err := parseHead(resp.body, resp.contentType)
		if err != nil {
			return nil, classify(resp.body.ctx, "reading the page", err)
		}
		page.OG, page.ImageURL = h.openGraph(resp.url)
	case isImage(resp.mediaType):
		page.ImageURL = page.URL
	}
	return page, nil
}

// FetchImage fetches a preview image under the same protections and limits
// as Preview. The body must be closed; reading it fails with ErrTooLarge
// past Config.MaxBytes and with ErrTimeout past Config.Timeout (counted
// from the request). contentType is the image's media type. Content that
// is not an image (or is SVG, which can carry scripts) fails with
// ErrNotImage.
func (f *Fetcher) FetchImage(ctx context.Context, rawURL string) (body io.ReadCloser, contentType string, err error) {
	resp, err := f.get(ctx, rawURL)
	if err != nil {
		return nil, "", err
	}
	switch {
	case !isImage(resp.mediaType):
		err = fmt.Errorf("preview: fetching the image: %w: %q", ErrNotImage, resp.mediaType)
	case resp.length > f.cfg.MaxBytes:
		err = fmt.Errorf("preview: fetching the image: %w: %d bytes (limit %d)", ErrTooLarge, resp.length, f.cfg.MaxBytes)
	default:
		return resp.body, resp.mediaType, nil
	}
	_ = resp.body.Close()
	return nil, "", err
}

// Response is the answer of GET /_matrix/client/v1/media/preview_url for
// the page with its image stored as img (nil when there is no image or it
// could not be fetched or stored). Client-server API, "Content
// repository", preview_url: og:image is an mxc URI and matrix:image:size
// the image's byte size, both omitted without an image; the other og:*
// properties are OpenGraph's. Without an image every og:image:* property
// goes too, since it describes an image that is not there; with one,
// og:image:type, width and height describe the stored image.
func (p *Page) Response(img *Image) map[string]any {
	out := make(map[string]any, len(p.OG)+5)
	for k, v := range p.OG {
		if !strings.HasPrefix(k, "og:image:") {
			out[k] = v
		}
	}
	if img == nil {
		return out
	}
	if alt, ok := p.OG["og:image:alt"]; ok {
		out["og:image:alt"] = alt
	}
	out["og:image"] = img.MXC
	out["matrix:image:size"] = img.Size
	if img.ContentType != "" {
		out["og:image:type"] = img.ContentType
	}
	width, height := img.Width, img.Height
	if width <= 0 || height <= 0 {
		width, height = positive(p.OG["og:image:width"]), positive(p.OG["og:image:height"])
	}
	if width > 0 && height > 0 {
		out["og:image:width"], out["og:image:height"] = width, height
	}
	return out
}

// positive is s as a positive integer, or 0.
func positive(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// isHTML reports whether a media type is an HTML page.
func isHTML(mediaType string) bool {
	return mediaType == "text/html" || mediaType == "application/xhtml+xml"
}

// isImage reports whether a media type is an image that may be previewed:
// any image but SVG, which is a document that can carry scripts.
func isImage(mediaType string) bool {
	return strings.HasPrefix(mediaType, "image/") && mediaType != "image/svg+xml"
}
