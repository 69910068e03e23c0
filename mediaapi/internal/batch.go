package internal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

// Limits of a batch upload (the im.myelin.media_batch extension).
const (
	// MaxBatchFiles bounds the files of one batch.
	MaxBatchFiles = 100
	// batchBytesFactor is how many times MaxUploadBytes the files of one
	// batch may hold together.
	batchBytesFactor = 10
)

// MaxBatchBytes is the most the files of one batch may hold together.
func (m *Media) MaxBatchBytes() int64 {
	if m.opts.MaxUploadBytes > math.MaxInt64/batchBytesFactor {
		return math.MaxInt64
	}
	return m.opts.MaxUploadBytes * batchBytesFactor
}

// PartError is the failure of one file of a batch: which one (its index in
// the batch, from 0, and its file name) and why.
type PartError struct {
	Index int
	Name  string
	Err   error
}

func (e *PartError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("part %d: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("part %d (%s): %v", e.Index, e.Name, e.Err)
}

// Unwrap gives errors.Is and errors.As the file's own error.
func (e *PartError) Unwrap() error { return e.Err }

// Batch is a batch upload under way: all or nothing. Each file is streamed
// to a temporary file as it arrives (never held in memory), within
// MaxUploadBytes, MaxBatchBytes for the files together and the uploader's
// quota for their sum; none is recorded until Commit records them all in
// one transaction. Discard removes what a batch that is not committed
// left.
type Batch struct {
	m        *Media
	uploader string
	// bytesLeft is what is left of MaxBatchBytes, quotaLeft of the
	// uploader's quota (math.MaxInt64 without one).
	bytesLeft, quotaLeft int64
	parts                []batchPart
}

// batchPart is one file of a batch, on disk and not yet recorded.
type batchPart struct {
	r  *received
	md *api.Metadata
}

// NewBatch starts a batch upload for uploader.
func (m *Media) NewBatch(ctx context.Context, uploader string) (*Batch, error) {
	left, err := m.quotaLeft(ctx, uploader)
	if err != nil {
		return nil, err
	}
	return &Batch{m: m, uploader: uploader, bytesLeft: m.MaxBatchBytes(), quotaLeft: left}, nil
}

// Add streams the next file of the batch to disk. Its errors are
// *PartErrors: a name Upload would refuse, more than MaxBatchFiles files,
// a file over MaxUploadBytes (api.ErrTooLarge), the files together over
// MaxBatchBytes (api.ErrBatchTooLarge) or over the quota
// (api.ErrQuotaExceeded), a body that cannot be read (ErrBody).
func (b *Batch) Add(name, contentType string, body io.Reader) error {
	i := len(b.parts)
	fail := func(err error) error { return &PartError{Index: i, Name: name, Err: err} }
	if i >= MaxBatchFiles {
		return fail(api.InvalidParam("a batch holds at most %d files", MaxBatchFiles))
	}
	if err := CheckUploadName(name); err != nil {
		return fail(err)
	}
	l := limit{b.m.opts.MaxUploadBytes, api.ErrTooLarge}.
		tighter(b.bytesLeft, api.ErrBatchTooLarge).
		tighter(b.quotaLeft, api.ErrQuotaExceeded)
	r, err := b.m.files.receive(body, l.bytes, l.err)
	if err != nil {
		return fail(err)
	}
	b.bytesLeft -= r.size
	b.quotaLeft -= r.size
	b.parts = append(b.parts, batchPart{r: r, md: &api.Metadata{
		Origin:      b.m.opts.ServerName,
		ContentType: NormalizeContentType(contentType),
		UploadName:  name,
		Size:        r.size,
		SHA256:      r.sha256,
		Uploader:    b.uploader,
	}})
	return nil
}

// Commit moves the batch's files into place (each content stored once) and
// records them all in one transaction, returning their metadata in the
// order they were added; once it returns, files and records are durable.
// When that fails nothing is recorded, and the files it put in place are
// removed unless another row names them; a failure of one file's record
// (the quota, passed by uploads that ran alongside) is a *PartError. A
// batch without files is 400 M_INVALID_PARAM.
func (b *Batch) Commit(ctx context.Context) ([]*api.Metadata, error) {
	parts := b.parts
	b.parts = nil
	if len(parts) == 0 {
		return nil, api.InvalidParam("the batch has no files")
	}
	rs := make([]*received, len(parts))
	mds := make([]*api.Metadata, len(parts))
	for i, p := range parts {
		rs[i], mds[i] = p.r, p.md
	}
	added, err := b.m.files.keep(rs, func() error { return b.record(ctx, mds) }, b.m.referenced(ctx))
	if err != nil {
		return nil, err
	}
	for i, md := range mds {
		b.m.metrics.uploaded(added[i], md.Size)
		b.m.pregenerate(md)
	}
	return mds, nil
}

// record gives each of mds a fresh media ID and commits them together.
func (b *Batch) record(ctx context.Context, mds []*api.Metadata) error {
	now := b.m.nowMs()
	for {
		for _, md := range mds {
			md.MediaID, md.CreatedTS = newMediaID(), now
		}
		err := b.m.store.InsertMediaBatch(ctx, mds, b.m.opts.UserQuotaBytes)
		// A fresh random ID that is taken (2^-144) is drawn again.
		if errors.Is(err, api.ErrCannotOverwrite) {
			continue
		}
		var row *storage.RowError
		if errors.As(err, &row) {
			return &PartError{Index: row.Index, Name: mds[row.Index].UploadName, Err: row.Err}
		}
		return err
	}
}

// Discard removes the temporary files of a batch that was not committed;
// after Commit it does nothing.
func (b *Batch) Discard() {
	for _, p := range b.parts {
		p.r.discard()
	}
	b.parts = nil
}
