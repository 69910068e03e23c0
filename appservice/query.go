package appservice

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/appservice/api"
)

// QueryTimeout bounds a query to an application service.
const QueryTimeout = 10 * time.Second

// QueryAlias asks the services whose alias namespaces hold alias, in turn,
// whether it exists (spec: application service API, "Querying",
// GET /_matrix/app/v1/rooms/{roomAlias}), and reports whether one said yes:
// that service has then created the room and the alias. A service without a
// URL is not asked; one that fails or times out counts as no (logged).
func QueryAlias(ctx context.Context, client *http.Client, reg *api.Registry, alias string, log logrus.FieldLogger) bool {
	for _, as := range reg.All() {
		if as.URL == nil || !as.OwnsAlias(alias) {
			continue
		}
		if query(ctx, client, as, "/_matrix/app/v1/rooms/"+url.PathEscape(alias), log.WithField("room_alias", alias)) {
			return true
		}
	}
	return false
}

// QueryUser asks the services whose user namespaces hold userID, in turn,
// whether the user exists (spec: "Querying", GET
// /_matrix/app/v1/users/{userId}), and reports whether one said yes: that
// service has then registered the user. Only a user the registry counts as
// this server's is asked about.
func QueryUser(ctx context.Context, client *http.Client, reg *api.Registry, userID string, log logrus.FieldLogger) bool {
	if reg.Localpart(userID) == "" {
		return false
	}
	for _, as := range reg.All() {
		if as.URL == nil || !as.OwnsUser(userID, reg.ServerName()) {
			continue
		}
		if query(ctx, client, as, "/_matrix/app/v1/users/"+url.PathEscape(userID), log.WithField("user_id", userID)) {
			return true
		}
	}
	return false
}

// query sends GET path to the service with its hs_token and reports
// whether it answered 200.
func query(ctx context.Context, client *http.Client, as *api.Registration, path string, log logrus.FieldLogger) bool {
	log = log.WithField("appservice_id", as.ID)
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(*as.URL, "/")+path, nil)
	if err != nil {
		log.WithError(err).Warn("appservice query: bad request")
		return false
	}
	req.Header.Set("Authorization", "Bearer "+as.HSToken)
	resp, err := client.Do(req)
	if err != nil {
		log.WithError(unwrapURLError(err)).Warn("appservice query failed")
		return false
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPingBody))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
		log.WithField("status", resp.StatusCode).Warn("appservice query: unexpected status")
	}
	return resp.StatusCode == http.StatusOK
}
