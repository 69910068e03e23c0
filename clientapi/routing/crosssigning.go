package routing

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/clientapi/auth"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// Cross-signing (spec: "Cross-signing"): uploading cross-signing keys and
// signatures. /keys/query (keys.go) returns them.

func (rt *Routes) setupCrossSigning(v3 prefixed) {
	v3.Handle("/keys/device_signing/upload", rt.authed(rt.uploadCrossSigningKeys)).Methods(http.MethodPost)
	v3.Handle("/keys/signatures/upload", rt.authed(rt.uploadSignatures)).Methods(http.MethodPost)
}

// POST /v3/keys/device_signing/upload. User-interactive authentication
// only when the upload replaces a stored key (spec, since v1.11: not for a
// first upload, nor for the same keys again); the user API says when.
func (rt *Routes) uploadCrossSigningKeys(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		MasterKey      json.RawMessage `json:"master_key"`
		SelfSigningKey json.RawMessage `json:"self_signing_key"`
		UserSigningKey json.RawMessage `json:"user_signing_key"`
		Auth           *auth.AuthDict  `json:"auth"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	up := api.CrossSigningUpload{Master: req.MasterKey, SelfSigning: req.SelfSigningKey, UserSigning: req.UserSigningKey}
	err := rt.users.UploadCrossSigningKeys(r.Context(), dev.Localpart, up, false)
	if errors.Is(err, api.ErrCrossSigningAuthRequired) {
		if err := rt.requireAuth(r, dev, "device_signing_upload", req.Auth); err != nil {
			return err
		}
		err = rt.users.UploadCrossSigningKeys(r.Context(), dev.Localpart, up, true)
	}
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// POST /v3/keys/signatures/upload. A key whose signatures fail is in
// failures with its error (spec: M_INVALID_SIGNATURE for a bad signature);
// the others are stored.
func (rt *Routes) uploadSignatures(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req map[string]map[string]json.RawMessage
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	failed, err := rt.users.UploadSignatures(r.Context(), dev.Localpart, req)
	if err != nil {
		return err
	}
	failures := make(map[string]map[string]any, len(failed))
	for user, keys := range failed {
		failures[user] = make(map[string]any, len(keys))
		for keyID, ferr := range keys {
			me, ok := httputil.AsMatrixError(ferr)
			if !ok {
				return ferr
			}
			failures[user][keyID] = map[string]string{"errcode": me.ErrCode, "error": ferr.Error()}
		}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"failures": failures})
	return nil
}
