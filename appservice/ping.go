package appservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/myelin-im/myelin/appservice/api"
)

// PingTimeout bounds a ping of an application service.
const PingTimeout = 15 * time.Second

// maxPingBody bounds the part of a failed ping's answer passed back.
const maxPingBody = 4096

// Ping calls POST {url}/_matrix/app/v1/ping on the service with its
// hs_token (spec: application service API, "Pinging") and returns how long
// the call took. Its failures are the client API's answers (spec:
// POST /_matrix/client/v1/appservice/{appserviceId}/ping): no URL 400
// M_URL_NOT_SET, a status other than 200 502 M_BAD_STATUS (with status and
// body), no connection 502 M_CONNECTION_FAILED, no answer within
// PingTimeout 504 M_CONNECTION_TIMEOUT.
func Ping(ctx context.Context, client *http.Client, as *api.Registration, txnID string) (time.Duration, error) {
	if as.URL == nil {
		return 0, newErr(http.StatusBadRequest, "M_URL_NOT_SET")("The application service has no URL")
	}
	body := map[string]string{}
	if txnID != "" {
		body["transaction_id"] = txnID
	}
	raw, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*as.URL, "/")+"/_matrix/app/v1/ping",
		bytes.NewReader(raw))
	if err != nil {
		return 0, newErr(http.StatusBadGateway, "M_CONNECTION_FAILED")("Bad application service URL: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+as.HSToken)
	start := time.Now()
	resp, err := client.Do(req)
	took := time.Since(start)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, newErr(http.StatusGatewayTimeout, "M_CONNECTION_TIMEOUT")("Ping timed out after %s", PingTimeout)
		}
		return 0, newErr(http.StatusBadGateway, "M_CONNECTION_FAILED")("Ping failed: %v", unwrapURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxPingBody))
	if resp.StatusCode != http.StatusOK {
		return 0, newErr(http.StatusBadGateway, "M_BAD_STATUS")("Ping returned status %d", resp.StatusCode).
			With("status", resp.StatusCode).With("body", string(answer))
	}
	return took, nil
}

// unwrapURLError drops the URL (which the caller knows) from a client error.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
