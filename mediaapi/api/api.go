// Package api is what other components may know of the media component
// (the content repository): media IDs and mxc:// URIs, the metadata kept
// for each file, the errors it returns, and the interface other components
// use to read local media (the federation media endpoints).
package api

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// MediaID is the opaque part of an mxc:// URI. Its grammar (client-server
// API, "Matrix Content (mxc://) URIs") is [A-Za-z0-9_-]+, so that it can
// never name anything outside the content repository.
type MediaID string

// MaxMediaIDLength bounds media IDs taken from requests; IDs this server
// makes are 24 characters.
const MaxMediaIDLength = 255

// ErrInvalidMXC is wrapped by the errors of ParseMediaID and ParseMXC
// (InvalidParamErrors: 400 M_INVALID_PARAM).
var ErrInvalidMXC = errors.New("invalid mxc:// URI")

// ParseMediaID checks a media ID against the spec's grammar.
func ParseMediaID(s string) (MediaID, error) {
	if s == "" || len(s) > MaxMediaIDLength {
		return "", invalidMXC("a media ID has 1 to %d characters", MaxMediaIDLength)
	}
	for i := 0; i < len(s); i++ {
		if !isMediaIDChar(s[i]) {
			return "", invalidMXC("a media ID has only A-Z, a-z, 0-9, _ and -")
		}
	}
	return MediaID(s), nil
}

func isMediaIDChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// MXC names one piece of content: mxc://<server-name>/<media-id>.
type MXC struct {
	ServerName string
	MediaID    MediaID
}

// String formats the URI.
func (m MXC) String() string { return "mxc://" + m.ServerName + "/" + string(m.MediaID) }

// ParseMXC reads an mxc:// URI, checking both parts as the spec's security
// considerations ask: the server name against the server name grammar (with
// gomatrixserverlib: api packages import no Myelin package; requests' path
// parameters are checked with internal/mxid where they come in) and the
// media ID against its own.
func ParseMXC(uri string) (MXC, error) {
	rest, ok := strings.CutPrefix(uri, "mxc://")
	if !ok {
		return MXC{}, invalidMXC("it does not start with mxc://")
	}
	server, id, ok := strings.Cut(rest, "/")
	if !ok {
		return MXC{}, invalidMXC("no media ID")
	}
	if _, _, valid := spec.ParseAndValidateServerName(spec.ServerName(server)); !valid || len(server) > 255 {
		return MXC{}, invalidMXC("%q is not a server name", server)
	}
	mediaID, err := ParseMediaID(id)
	if err != nil {
		return MXC{}, err
	}
	return MXC{ServerName: server, MediaID: mediaID}, nil
}

// Metadata is what the content repository records of a file.
type Metadata struct {
	// Origin is the server the media was uploaded to.
	Origin  string
	MediaID MediaID
	// ContentType is the type the uploader declared
	// (application/octet-stream when none).
	ContentType string
	// UploadName is the file name the uploader gave; "" when none.
	UploadName string
	Size       int64
	// SHA256 is the hex SHA-256 of the content, which names the stored file.
	SHA256 string
	// Uploader is the user ID of a local upload; "" for remote media.
	Uploader string
	// CreatedTS is when the content was stored, in milliseconds since the
	// epoch (for remote media, when it was fetched).
	CreatedTS int64
}

// MXC is the content URI of the media.
func (m *Metadata) MXC() MXC { return MXC{ServerName: m.Origin, MediaID: m.MediaID} }

// Content is an open stored file: read it, seek in it (range requests),
// close it when done.
type Content = io.ReadSeekCloser

// MediaAPI is every method the media component offers other components
// (what mediaapi.New returns satisfies it).
type MediaAPI interface {
	// LocalMetadata returns the metadata of media uploaded to this server:
	// ErrNotFound when there is none, ErrNotYetUploaded when the ID was
	// created for an upload that has not happened yet.
	LocalMetadata(ctx context.Context, id MediaID) (*Metadata, error)
	// OpenLocal returns the metadata and the opened content of media
	// uploaded to this server, with LocalMetadata's errors. The caller
	// closes the content.
	OpenLocal(ctx context.Context, id MediaID) (*Metadata, Content, error)
	// LocalThumbnail returns a thumbnail of media uploaded to this server
	// (spec: "Thumbnails"): its metadata (ContentType and Size are the
	// thumbnail's) and opened content, a stored one or one made now; the
	// original itself when it is already small enough and not an animation
	// the request did not ask for. LocalMetadata's errors, and
	// ErrCannotThumbnail for content that is not a thumbnailable image.
	LocalThumbnail(ctx context.Context, id MediaID, want ThumbnailSpec) (*Metadata, Content, error)
}

// ThumbnailMethod is how a thumbnail fits its box (spec: "Thumbnails").
type ThumbnailMethod string

// The thumbnail methods.
const (
	// ThumbnailCrop fills the box exactly, cropping what overflows.
	ThumbnailCrop ThumbnailMethod = "crop"
	// ThumbnailScale fits inside the box, keeping the aspect ratio.
	ThumbnailScale ThumbnailMethod = "scale"
)

// ThumbnailSpec is a requested thumbnail: the box, the method, and whether
// an animated original may give an animated thumbnail.
type ThumbnailSpec struct {
	Width    int
	Height   int
	Method   ThumbnailMethod
	Animated bool
}

// RemoteMedia is media another server answered with.
type RemoteMedia struct {
	ContentType string
	// UploadName is the file name the server gave (its
	// Content-Disposition's), as sent: "" when none.
	UploadName string
	// Size is the announced size, -1 when unknown.
	Size int64
	// Body is the content; reading it past the fetcher's size limit fails
	// with ErrRemoteTooLarge. Closing it ends the fetch.
	Body io.ReadCloser
}

// RemoteFetcher fetches media held by other servers (the federation media
// endpoints). The media component stores what it returns and serves it
// from then on; until federation provides one, remote media is not found.
//
// A fetcher bounds each fetch in size (ErrRemoteTooLarge) and time
// (ErrRemoteTimeout) itself. Its errors carry their answer for clients:
// ErrNotFound when the media's server has no such media,
// ErrNotYetUploaded when it has not received it yet, ErrRemoteTooLarge,
// ErrRemoteTimeout, and otherwise the server's failure (502).
type RemoteFetcher interface {
	// FetchMedia asks the media's server for it.
	FetchMedia(ctx context.Context, m MXC) (*RemoteMedia, error)
	// FetchThumbnail asks the media's server for a thumbnail of it.
	FetchThumbnail(ctx context.Context, m MXC, want ThumbnailSpec) (*RemoteMedia, error)
}
