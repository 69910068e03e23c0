package internal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/myelin-im/myelin/mediaapi/api"
)

// LocalMetadata implements api.MediaAPI: the metadata of this server's
// media, api.ErrNotYetUploaded for a created ID still waiting for content,
// api.ErrNotFound otherwise (and for quarantined media).
func (m *Media) LocalMetadata(ctx context.Context, id api.MediaID) (*api.Metadata, error) {
	if err := m.checkQuarantine(ctx, api.MXC{ServerName: m.opts.ServerName, MediaID: id}); err != nil {
		return nil, err
	}
	md, err := m.store.Media(ctx, m.opts.ServerName, id)
	if !errors.Is(err, api.ErrNotFound) {
		return md, err
	}
	switch _, err := m.store.Pending(ctx, id, m.nowMs()); {
	case err == nil:
		return nil, api.ErrNotYetUploaded
	case errors.Is(err, api.ErrNotFound):
		return nil, api.ErrNotFound
	default:
		return nil, err
	}
}

// OpenLocal implements api.MediaAPI: LocalMetadata and the opened content.
func (m *Media) OpenLocal(ctx context.Context, id api.MediaID) (*api.Metadata, api.Content, error) {
	md, err := m.LocalMetadata(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return m.openContent(md)
}

// Metadata finds media by URI. A local ID created for an upload still to
// come is waited for up to wait (then api.ErrNotYetUploaded); another
// server's media this server has no copy of yet is fetched from its origin
// and kept (remote.go).
func (m *Media) Metadata(ctx context.Context, mxc api.MXC, wait time.Duration) (*api.Metadata, error) {
	return m.find(ctx, mxc, wait, true)
}

// Open is Metadata and the opened content; the caller closes it.
func (m *Media) Open(ctx context.Context, mxc api.MXC, wait time.Duration) (*api.Metadata, api.Content, error) {
	return m.open(ctx, mxc, wait, true)
}

// OpenStored is Open without fetching: another server's media is found
// only when this server already has a copy (a download with
// allow_remote=false).
func (m *Media) OpenStored(ctx context.Context, mxc api.MXC, wait time.Duration) (*api.Metadata, api.Content, error) {
	return m.open(ctx, mxc, wait, false)
}

// open finds mxc (fetching it when fetch allows) and opens its content.
func (m *Media) open(ctx context.Context, mxc api.MXC, wait time.Duration, fetch bool) (*api.Metadata, api.Content, error) {
	md, err := m.find(ctx, mxc, wait, fetch)
	if err != nil {
		return nil, nil, err
	}
	return m.openContent(md)
}

// find is Metadata, fetching other servers' media only when fetch says.
func (m *Media) find(ctx context.Context, mxc api.MXC, wait time.Duration, fetch bool) (*api.Metadata, error) {
	if mxc.ServerName != m.opts.ServerName {
		if err := m.checkQuarantine(ctx, mxc); err != nil {
			return nil, err
		}
		return m.remoteMetadata(ctx, mxc, fetch)
	}
	return m.waitForUpload(ctx, wait, func() (*api.Metadata, error) { return m.LocalMetadata(ctx, mxc.MediaID) })
}

// CheckDownload says whether user may download mxc, with its metadata:
// every user of this server may download any media this server has or can
// fetch (the spec gives media no access rules of its own), so it is
// api.ErrNotFound for media that does not exist (or not yet) and nil
// otherwise. Extensions acting on media for a user (transcription) ask it
// first.
func (m *Media) CheckDownload(ctx context.Context, user string, mxc api.MXC) (*api.Metadata, error) {
	md, err := m.Metadata(ctx, mxc, 0)
	if err != nil {
		return nil, fmt.Errorf("media: %s may not download %s: %w", user, mxc, err)
	}
	return md, nil
}

// FilePath is where the content md names lies on disk, for programs that
// read files rather than streams (ffmpeg, for transcription). The path is
// built from the hash this server computed when it stored the file, never
// from anything a request says.
func (m *Media) FilePath(md *api.Metadata) (string, error) {
	return m.files.path(md.SHA256)
}

// openContent opens the file md names.
func (m *Media) openContent(md *api.Metadata) (*api.Metadata, api.Content, error) {
	f, err := m.files.open(md.SHA256)
	if err != nil {
		return nil, nil, fmt.Errorf("media: %s: %w", md.MXC(), err)
	}
	return md, f, nil
}
