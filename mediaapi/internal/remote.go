package internal

import (
	"context"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/mediaapi/api"
)

// remoteMetadata finds another server's media: the copy this server keeps,
// else, when fetch says so and federation is there (Options.Remote), a
// copy fetched from its origin now.
func (m *Media) remoteMetadata(ctx context.Context, mxc api.MXC, fetch bool) (*api.Metadata, error) {
	md, err := m.store.Media(ctx, mxc.ServerName, mxc.MediaID)
	if !errors.Is(err, api.ErrNotFound) || !fetch || m.opts.Remote == nil {
		return md, err
	}
	return m.fetchOnce(ctx, mxc)
}

// fetchOnce fetches mxc from its origin once for all the requests that
// want it at the same time. The fetch runs on its own (until it ends, or
// Close), so a requester who gives up stops waiting without stopping it
// for the others.
func (m *Media) fetchOnce(ctx context.Context, mxc api.MXC) (*api.Metadata, error) {
	done := m.fetches.DoChan(mxc.String(), func() (any, error) {
		return m.fetchRemote(context.WithoutCancel(ctx), mxc)
	})
	select {
	case res := <-done:
		if res.Err != nil {
			return nil, res.Err
		}
		md := *res.Val.(*api.Metadata) // each requester its own copy
		return &md, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("media: waiting for %s from its server: %w", mxc, ctx.Err())
	}
}

// fetchRemote copies mxc from its origin (copyRemote), counting the
// outcome; Close stops it.
func (m *Media) fetchRemote(ctx context.Context, mxc api.MXC) (*api.Metadata, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(m.ctx, cancel)()
	md, result, err := m.copyRemote(ctx, mxc)
	m.metrics.fetched(result)
	if err != nil {
		m.log.WithError(err).WithField("mxc", mxc.String()).Debug("fetching remote media failed")
		return nil, fmt.Errorf("media: fetching %s from its server: %w", mxc, err)
	}
	return md, nil
}

// Outcomes of a fetch of remote media, for the metrics ("" is none: a copy
// was there already).
const (
	fetchStored       = "stored"
	fetchDeduplicated = "deduplicated"
	fetchFailed       = "failed"
)

// copyRemote asks mxc's origin for it (Options.Remote) and stores it as
// uploads are stored (keepContent), under the origin's name, with no
// uploader (a copy counts against no one's quota) and the fetch time as
// CreatedTS: the legacy freeze treats a copy made after it as new (spec:
// content repository, "Client behaviour": for remote media,
// "newly-uploaded is determined by the date the cache was populated").
func (m *Media) copyRemote(ctx context.Context, mxc api.MXC) (*api.Metadata, string, error) {
	// A copy another process made, or a fetch that ended just before this
	// one began.
	if md, err := m.store.Media(ctx, mxc.ServerName, mxc.MediaID); !errors.Is(err, api.ErrNotFound) {
		return md, "", err
	}
	rm, err := m.opts.Remote.FetchMedia(ctx, mxc)
	if err != nil {
		return nil, fetchFailed, err
	}
	defer func() { _ = rm.Body.Close() }()
	if rm.Size > m.opts.MaxUploadBytes {
		return nil, fetchFailed, api.ErrRemoteTooLarge
	}
	md := &api.Metadata{
		Origin:      mxc.ServerName,
		MediaID:     mxc.MediaID,
		ContentType: NormalizeContentType(rm.ContentType),
		UploadName:  remoteName(rm.UploadName),
	}
	commit := func() error { return m.store.InsertMedia(ctx, md, 0) }
	added, err := m.keepContent(ctx, rm.Body, limit{m.opts.MaxUploadBytes, api.ErrRemoteTooLarge}, md, commit)
	switch {
	case errors.Is(err, api.ErrCannotOverwrite): // another process kept its copy first
		md, err := m.store.Media(ctx, mxc.ServerName, mxc.MediaID)
		return md, fetchDeduplicated, err
	case err != nil:
		return nil, fetchFailed, err
	case added:
		return md, fetchStored, nil
	}
	return md, fetchDeduplicated, nil
}

// remoteName is the file name kept for remote media: the one its server
// gave, unless it could not be given back in a Content-Disposition header
// (CheckUploadName), and then none.
func remoteName(name string) string {
	if CheckUploadName(name) != nil {
		return ""
	}
	return name
}
