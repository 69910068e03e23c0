package routing

import (
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/mediaapi/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// maxBatchURIs bounds the URIs of one batch download.
const maxBatchURIs = 100

// Headers of a batch download's parts besides Content-Type and
// Content-Disposition: the URI the part answers, and on a part that
// carries a Matrix error instead of a file, the status a download of that
// URI alone would have had.
const (
	headerPartURI    = "Content-Location"
	headerPartStatus = "X-Matrix-Status"
)

// POST /_matrix/client/unstable/im.myelin/media/download_batch
// {"uris": ["mxc://…", …]}: a multipart/mixed response, one part per URI in
// order, each file streamed from the store as it goes. A URI that cannot
// be served (missing, not yet uploaded, its server unreachable) gets a
// part with its Matrix error; the others are served all the same. Local
// and remote media alike (Open), without waiting for pending uploads.
func (rt *Routes) downloadBatch(w http.ResponseWriter, r *http.Request, _ *userapi.Device) error {
	uris, err := readBatchURIs(r)
	if err != nil {
		return err
	}
	mw := multipart.NewWriter(w)
	h := w.Header()
	h.Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for _, mxc := range uris {
		if err := r.Context().Err(); err != nil {
			abortBatch(r, err) // the client has gone: no part to write for it
		}
		rt.writeBatchPart(r, mw, mxc)
		_ = rc.Flush() // each part reaches the client as soon as it is whole
	}
	if err := mw.Close(); err != nil {
		abortBatch(r, err)
	}
	return nil
}

// readBatchURIs reads and checks the request's URIs, all before anything
// is streamed: a malformed one is 400 M_INVALID_PARAM naming its index.
func readBatchURIs(r *http.Request) ([]api.MXC, error) {
	var req struct {
		URIs []string `json:"uris"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return nil, err
	}
	switch {
	case req.URIs == nil:
		return nil, httputil.MissingParam("uris is required: a list of mxc:// URIs")
	case len(req.URIs) == 0:
		return nil, httputil.InvalidParam("uris is empty")
	case len(req.URIs) > maxBatchURIs:
		return nil, httputil.InvalidParam("a batch holds at most %d URIs (got %d)", maxBatchURIs, len(req.URIs))
	}
	out := make([]api.MXC, len(req.URIs))
	for i, s := range req.URIs {
		mxc, err := api.ParseMXC(s)
		if err != nil {
			return nil, httputil.InvalidParam("uris[%d]: %v", i, err).With(partIndexField, i)
		}
		out[i] = mxc
	}
	return out, nil
}

// writeBatchPart writes mxc's part: the file with its type, disposition (as
// a download gives them) and length, or its error.
func (rt *Routes) writeBatchPart(r *http.Request, mw *multipart.Writer, mxc api.MXC) {
	md, content, err := rt.media.Open(r.Context(), mxc, 0)
	if err != nil {
		writeErrorPart(r, mw, mxc, err)
		return
	}
	defer func() { _ = content.Close() }()
	h := partHeader(mxc)
	h.Set("Content-Type", md.ContentType)
	h.Set("Content-Disposition", api.ContentDisposition(md.ContentType, md.UploadName))
	h.Set("Content-Length", strconv.FormatInt(md.Size, 10))
	pw, err := mw.CreatePart(h)
	if err != nil {
		abortBatch(r, err)
	}
	n, err := io.Copy(pw, content)
	if err == nil && n != md.Size {
		err = fmt.Errorf("%s: stored file has %d bytes, its record says %d", mxc, n, md.Size)
	}
	if err != nil {
		abortBatch(r, err)
	}
}

// writeErrorPart writes a part with the Matrix error a download of mxc
// alone would answer, and its status in headerPartStatus. Errors without
// a Matrix meaning are logged and written as 500 M_UNKNOWN, as WriteError
// does.
func writeErrorPart(r *http.Request, mw *multipart.Writer, mxc api.MXC, err error) {
	me, ok := httputil.AsMatrixError(err)
	if !ok || me.Status >= http.StatusInternalServerError {
		httputil.Logger(r.Context()).WithError(err).WithField("mxc", mxc.String()).Error("batch download: a part failed")
	}
	if !ok {
		me = httputil.Unknown("Internal server error")
	}
	h := partHeader(mxc)
	h.Set("Content-Type", "application/json")
	h.Set(headerPartStatus, strconv.Itoa(me.Status))
	body, _ := json.Marshal(me.Body())
	pw, err := mw.CreatePart(h)
	if err == nil {
		_, err = pw.Write(body)
	}
	if err != nil {
		abortBatch(r, err)
	}
}

// partHeader is the header every part has: the URI it answers.
func partHeader(mxc api.MXC) textproto.MIMEHeader {
	return textproto.MIMEHeader{headerPartURI: {mxc.String()}}
}

// abortBatch ends a batch download that cannot go on (the client went
// away, a stored file could not be read): the status is sent already, so
// the connection is cut, and the client sees a multipart body without its
// end rather than a part that looks whole.
func abortBatch(r *http.Request, err error) {
	httputil.Logger(r.Context()).WithError(err).Info("batch download cut short")
	panic(http.ErrAbortHandler)
}
