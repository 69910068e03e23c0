package routing

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// The batch transfer extension (im.myelin.media_batch, docs/api-extensions.md):
// several files up in one multipart/form-data request, several down in one
// multipart/mixed response.
const unstableMedia = "/_matrix/client/unstable/im.myelin/media"

// batchEnvelope is what a batch upload's body may hold besides its files:
// boundaries and part headers (a few hundred bytes a file).
const batchEnvelope = 1 << 20

// partIndexField names, in a Matrix error about one file of a batch, the
// file's index (from 0, as in content_uris and uris).
const partIndexField = "im.myelin.part_index"

// setupBatch registers the batch endpoints. An upload's body may hold the
// batch's limit (internal.MaxBatchBytes) and its envelope.
func (rt *Routes) setupBatch(r *mux.Router) {
	body := rt.media.MaxBatchBytes() + batchEnvelope
	r.Handle(unstableMedia+"/upload_batch", httputil.WithBodyLimit(body, rt.authed(rt.uploadBatch))).Methods(http.MethodPost)
	r.Handle(unstableMedia+"/download_batch", rt.authed(rt.downloadBatch)).Methods(http.MethodPost)
}

// POST /_matrix/client/unstable/im.myelin/media/upload_batch: a
// multipart/form-data body of files, each streamed to the store as it
// arrives, recorded together at the end → {"content_uris": [...]} in the
// order of the parts. All or nothing: when one part fails none is kept,
// and the error names the part.
func (rt *Routes) uploadBatch(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	mr, err := formDataReader(r)
	if err != nil {
		return err
	}
	batch, err := rt.media.NewBatch(r.Context(), dev.UserID)
	if err != nil {
		return err
	}
	defer batch.Discard()
	if err := addParts(batch, mr); err != nil {
		return partError(err)
	}
	mds, err := batch.Commit(r.Context())
	if err != nil {
		return partError(err)
	}
	uris := make([]string, len(mds))
	for i, md := range mds {
		uris[i] = md.MXC().String()
	}
	httputil.WriteJSON(w, http.StatusOK, map[string][]string{"content_uris": uris})
	return nil
}

// formDataReader reads the parts of a multipart/form-data body one at a
// time (never the whole body, as ParseMultipartForm would).
func formDataReader(r *http.Request) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, api.InvalidParam("the body must be multipart/form-data with a boundary")
	}
	return multipart.NewReader(r.Body, params["boundary"]), nil
}

// addParts adds the files of mr's parts to batch, one after the other,
// until the body ends or a part fails.
func addParts(batch *internal.Batch, mr *multipart.Reader) error {
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &internal.PartError{Index: i, Err: fmt.Errorf("%w: %w", internal.ErrBody, err)}
		}
		err = addPart(batch, i, part)
		_ = part.Close()
		if err != nil {
			return err
		}
	}
}

// addPart adds the file of part i to batch. A part must be a file (a
// form-data Content-Disposition with a filename, RFC 7578 §4.2) sent as
// it is (no Content-Transfer-Encoding but binary, 8bit or 7bit: §4.7);
// its Content-Type is the file's (none: application/octet-stream, as
// for single uploads, not RFC 7578's text/plain).
func addPart(batch *internal.Batch, i int, part *multipart.Part) error {
	disposition, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	name := params["filename"]
	fail := func(format string, args ...any) error {
		return &internal.PartError{Index: i, Name: name, Err: api.InvalidParam(format, args...)}
	}
	switch {
	case err != nil || disposition != "form-data":
		return fail("a part needs a Content-Disposition of form-data")
	case name == "":
		return fail("not a file: a part needs a filename in its Content-Disposition")
	}
	switch enc := strings.ToLower(part.Header.Get("Content-Transfer-Encoding")); enc {
	case "", "binary", "8bit", "7bit":
	default:
		return fail("Content-Transfer-Encoding %q is not supported: send the file as it is", enc)
	}
	return batch.Add(name, part.Header.Get("Content-Type"), part)
}

// partError answers the failure of one file of a batch with its own Matrix
// error, its message naming the part ("part 3 (cat.png): …") and the
// part's index in partIndexField. A body that could not be read is the
// sender's fault: past the body limit 413 M_TOO_LARGE, else malformed
// (400). Failures without a Matrix meaning stay 500s.
func partError(err error) error {
	var pe *internal.PartError
	if !errors.As(err, &pe) {
		return err
	}
	cause := pe.Err
	if errors.Is(cause, internal.ErrBody) {
		var mbe *http.MaxBytesError
		cause = api.InvalidParam("the multipart body is malformed or cut short")
		if errors.As(pe.Err, &mbe) {
			cause = api.ErrBatchTooLarge
		}
	}
	me, ok := httputil.AsMatrixError(cause)
	if !ok {
		return err
	}
	named := *me
	named.Message = (&internal.PartError{Index: pe.Index, Name: pe.Name, Err: errors.New(me.Message)}).Error()
	return named.With(partIndexField, pe.Index)
}
