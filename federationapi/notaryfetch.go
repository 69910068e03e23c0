package federationapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// notaryFetcher asks the configured notaries for other servers' keys (spec:
// "Querying Keys Through Another Server"). An answer counts when it is
// signed by the notary (whose own keys are fetched directly) and passes the
// same checks as a direct answer (its server's name, signed by each of its
// keys, valid in the future).
type notaryFetcher struct {
	f        *FederationAPI
	notaries []spec.ServerName
}

func (n notaryFetcher) FetcherName() string { return "notary" }

func (n notaryFetcher) FetchKeys(ctx context.Context, reqs keyRequests) (keyResults, error) {
	out := keyResults{}
	var errs []error
	for _, notary := range n.notaries {
		ask := map[gomatrixserverlib.PublicKeyLookupRequest]spec.Timestamp{}
		for req, ts := range reqs {
			if _, done := out[req]; !done && req.ServerName != notary && req.ServerName != n.f.name {
				ask[req] = ts
			}
		}
		if len(ask) == 0 {
			break
		}
		if err := n.ask(ctx, notary, ask, out); err != nil {
			errs = append(errs, fmt.Errorf("notary %s: %w", notary, err))
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ask queries one notary and adds what checks out to out.
func (n notaryFetcher) ask(ctx context.Context, notary spec.ServerName, reqs keyRequests, out keyResults) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	answers, err := n.f.Client.LookupServerKeys(ctx, notary, reqs)
	if err != nil {
		return err
	}
	for _, sk := range answers {
		if err := checkKeyAnswer(sk.ServerName, n.f.now(), sk); err != nil {
			continue
		}
		// The notary's own signature, checked with its directly fetched keys.
		res, err := n.f.keyRing.VerifyJSONs(ctx, []gomatrixserverlib.VerifyJSONRequest{{
			ServerName: notary, AtTS: spec.AsTimestamp(n.f.now()), Message: sk.Raw,
			ValidityCheckingFunc: gomatrixserverlib.StrictValiditySignatureCheck,
		}})
		if err != nil || res[0].Error != nil {
			continue
		}
		_ = n.f.store.StoreKeyResponse(ctx, string(sk.ServerName), sk.Raw, int64(sk.ValidUntilTS))
		for id, vk := range sk.VerifyKeys {
			out[gomatrixserverlib.PublicKeyLookupRequest{ServerName: sk.ServerName, KeyID: id}] = gomatrixserverlib.PublicKeyLookupResult{
				VerifyKey: vk, ValidUntilTS: sk.ValidUntilTS, ExpiredTS: gomatrixserverlib.PublicKeyNotExpired}
		}
		for id, ok := range sk.OldVerifyKeys {
			out[gomatrixserverlib.PublicKeyLookupRequest{ServerName: sk.ServerName, KeyID: id}] = gomatrixserverlib.PublicKeyLookupResult{
				VerifyKey: ok.VerifyKey, ValidUntilTS: gomatrixserverlib.PublicKeyNotValid, ExpiredTS: ok.ExpiredTS}
		}
	}
	return nil
}
