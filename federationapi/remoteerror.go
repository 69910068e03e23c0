package federationapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/matrix-org/gomatrix"
	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
)

// remoteError is the one place where the federation client's error for a
// request to server becomes what a client is told (fedapi.RemoteError
// decides the status): a non-2xx answer gives the remote's Matrix error
// (errcode, error text, its other fields such as room_version), read from
// the body the client kept; no answer gives why. Any other error (this
// server's own: signing, building the request) is returned as it is, and so
// is one already mapped.
func remoteError(server spec.ServerName, err error) error {
	if err == nil {
		return nil
	}
	var re *fedapi.RemoteError
	if errors.As(err, &re) {
		return err
	}
	var he gomatrix.HTTPError
	if errors.As(err, &he) {
		re = &fedapi.RemoteError{Server: string(server), Status: he.Code, Err: err}
		readMatrixError(he.Contents, re)
		return re
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &fedapi.RemoteError{Server: string(server), Message: ue.Err.Error(), Err: err}
	}
	return err
}

// readMatrixError fills re's errcode, message and other fields from the
// remote's answer body (spec: client-server API, "Standard error
// response"); a body that is not one says only that.
func readMatrixError(body []byte, re *fedapi.RemoteError) {
	var fields map[string]any
	_ = json.Unmarshal(body, &fields)
	code, _ := fields["errcode"].(string)
	if code == "" {
		re.Message = "the answer is not a Matrix error"
		return
	}
	re.ErrCode = code
	re.Message, _ = fields["error"].(string)
	delete(fields, "errcode")
	delete(fields, "error")
	if len(fields) > 0 {
		re.Extra = fields
	}
}

// ask sends a request signed by this server to server and decodes its
// answer into out; a failure is mapped by
// remoteError.
func (f *FederationAPI) ask(ctx context.Context, method string, server spec.ServerName, path string, body, out any) error {
	hr, err := f.signedRequest(method, server, path, body)
	if err != nil {
		return err
	}
	return remoteError(server, f.Client.DoRequestAndParseResponse(ctx, hr, out))
}

// signedRequest is a request from this server to server, signed with
// X-Matrix (spec: server-server API, "Request Authentication"), with body
// as its JSON content (nil: none).
func (f *FederationAPI) signedRequest(method string, server spec.ServerName, path string, body any) (*http.Request, error) {
	req := fclient.NewFederationRequest(method, f.name, server, path)
	if body != nil {
		if err := req.SetContent(body); err != nil {
			return nil, err
		}
	}
	if err := req.Sign(f.name, gomatrixserverlib.KeyID(f.opts.Key.ID), f.opts.Key.Private); err != nil {
		return nil, err
	}
	return req.HTTPRequest()
}

// maxErrorBody bounds the error body read from an answer remoteError is
// not given by the federation client.
const maxErrorBody = 64 << 10

// answerError is remoteError for a non-2xx answer read here rather than by
// the federation client (media answers, which are streamed): its body, up
// to maxErrorBody, read as the remote's Matrix error. It closes the body.
func answerError(server spec.ServerName, resp *http.Response) error {
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return remoteError(server, gomatrix.HTTPError{
		Code:     resp.StatusCode,
		Message:  fmt.Sprintf("%s answered %d", server, resp.StatusCode),
		Contents: body,
	})
}

// unusableAnswer is the remote's failure to answer in the spec's format: a
// 2xx answer (status) this server cannot use, why says how, err is what
// failed reading it (nil: nothing did).
func unusableAnswer(server spec.ServerName, status int, why string, err error) error {
	if err != nil {
		why += ": " + err.Error()
	}
	return &fedapi.RemoteError{Server: string(server), Status: status, Message: why, Err: err}
}
