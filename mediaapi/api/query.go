package api

import (
	"net/url"
	"strconv"
	"time"
)

// How long a download waits for content a created media ID has not
// received yet: timeout_ms, 20 seconds when absent (the spec's default),
// never more than a minute (the spec asks for a maximum).
const (
	DefaultWait = 20 * time.Second
	MaxWait     = time.Minute
)

// ParseTimeout reads a download's timeout_ms ("" when absent): how long
// to wait for content not uploaded yet, DefaultWait when absent, at most
// MaxWait.
func ParseTimeout(v string) (time.Duration, error) {
	if v == "" {
		return DefaultWait, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0, InvalidParam("timeout_ms must be a whole number of milliseconds, 0 or more")
	}
	return time.Duration(min(ms, MaxWait.Milliseconds())) * time.Millisecond, nil
}

// ParseBool reads a boolean query parameter named name: def when absent,
// else true or false.
func ParseBool(v, name string, def bool) (bool, error) {
	switch v {
	case "":
		return def, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, InvalidParam("%s must be true or false", name)
}

// maxThumbnailSide bounds a requested thumbnail's width and height; a
// larger box asks for no thumbnail any image could fill.
const maxThumbnailSide = 1 << 16

// ParseThumbnailSpec reads a thumbnail request's query (client-server and
// server-server content repository, thumbnail: width and height required,
// whole numbers of pixels; method crop or scale, scale when absent, as
// Synapse; animated true or false, false when absent). A missing width or
// height is a MissingParamError, a bad parameter an InvalidParamError: the
// spec's 400 for "non-integer dimensions or negatively-sized images".
func ParseThumbnailSpec(q url.Values) (ThumbnailSpec, error) {
	var s ThumbnailSpec
	var err error
	if s.Width, err = thumbnailSide(q, "width"); err != nil {
		return s, err
	}
	if s.Height, err = thumbnailSide(q, "height"); err != nil {
		return s, err
	}
	switch m := ThumbnailMethod(q.Get("method")); m {
	case "":
		s.Method = ThumbnailScale
	case ThumbnailCrop, ThumbnailScale:
		s.Method = m
	default:
		return s, InvalidParam("method must be crop or scale")
	}
	s.Animated, err = ParseBool(q.Get("animated"), "animated", false)
	return s, err
}

// thumbnailSide reads the width or height parameter.
func thumbnailSide(q url.Values, name string) (int, error) {
	v := q.Get(name)
	if v == "" {
		return 0, &MissingParamError{Reason: name + " is required"}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxThumbnailSide {
		return 0, InvalidParam("%s must be a whole number of pixels from 1 to %d", name, maxThumbnailSide)
	}
	return n, nil
}

// Query is the query of a thumbnail request for s, as this server asks
// another for one.
func (s ThumbnailSpec) Query() url.Values {
	q := url.Values{}
	q.Set("width", strconv.Itoa(s.Width))
	q.Set("height", strconv.Itoa(s.Height))
	method := s.Method
	if method == "" {
		method = ThumbnailScale
	}
	q.Set("method", string(method))
	q.Set("animated", strconv.FormatBool(s.Animated))
	return q
}
