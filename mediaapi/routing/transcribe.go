package routing

import (
	"net/http"
	"regexp"

	"github.com/gorilla/mux"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/mediaapi/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// transcribeRequest is the optional body of a transcription request.
type transcribeRequest struct {
	// Language is the language spoken, a BCP 47 tag ("en", "zh-CN");
	// empty for the engine's default.
	Language string `json:"language"`
}

// transcribeResponse is a transcription; its field names are the
// extension's contract (docs/api-extensions.md).
type transcribeResponse struct {
	Text       string `json:"text"`
	Engine     string `json:"engine"`
	Language   string `json:"language"`
	DurationMS int64  `json:"duration_ms"`
}

// languageTag is what a language may look like: a BCP 47 tag of letters
// and digits in subtags of up to eight, with - (or _, as in locale names)
// between them, at most 35 characters.
var languageTag = regexp.MustCompile(`^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$`)

// setupTranscribe registers the transcription endpoint.
func (rt *Routes) setupTranscribe(r *mux.Router) {
	r.Handle(unstableMedia+"/transcribe/{serverName}/{mediaId}", rt.authed(rt.transcribe)).Methods(http.MethodPost)
}

// POST /_matrix/client/unstable/im.myelin/media/transcribe/{serverName}/{mediaId}
// (docs/api-extensions.md): the text spoken in a voice message the caller
// may download, by the configured engine, kept for later requests.
func (rt *Routes) transcribe(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	mxc, err := mxcFromPath(r)
	if err != nil {
		return err
	}
	var req transcribeRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Language != "" && (len(req.Language) > 35 || !languageTag.MatchString(req.Language)) {
		return api.InvalidParam("language must be a BCP 47 language tag such as \"en\" or \"zh-CN\"")
	}
	res, err := rt.opts.Transcriber.Transcribe(r.Context(), dev.UserID, mxc, req.Language)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, transcribeResponse{
		Text:       res.Text,
		Engine:     res.Engine,
		Language:   res.Language,
		DurationMS: res.DurationMS,
	})
	return nil
}
