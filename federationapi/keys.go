package federationapi

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/federationapi/storage"
)

// keyValidity is how long this server's key answer says its keys are valid
// (valid_until_ts): other servers fetch them again after that.
const keyValidity = 7 * 24 * time.Hour

// keys publishes this server's signing keys and fetches, stores and serves
// other servers' (spec: server-server API, "Retrieving server keys"). It is
// the gomatrixserverlib.KeyDatabase and the direct key fetcher of the key
// ring that verifies requests and events.
type keys struct {
	serverName spec.ServerName
	keyID      gomatrixserverlib.KeyID
	private    ed25519.PrivateKey
	own        []storage.OwnKey
	store      *storage.Storage
	client     fclient.FederationClient
	now        func() time.Time

	mu    sync.RWMutex
	cache keyResults
}

// keyRequests and keyResults are what gomatrixserverlib's key fetchers and
// key database take and give: keys asked for (with the time they must be
// valid at) and keys found.
type (
	keyRequests = map[gomatrixserverlib.PublicKeyLookupRequest]spec.Timestamp
	keyResults  = map[gomatrixserverlib.PublicKeyLookupRequest]gomatrixserverlib.PublicKeyLookupResult
)

// ownAnswer is this server's signed key answer, valid for keyValidity.
func (k *keys) ownAnswer() ([]byte, error) {
	verify := map[gomatrixserverlib.KeyID]gomatrixserverlib.VerifyKey{}
	old := map[gomatrixserverlib.KeyID]gomatrixserverlib.OldVerifyKey{}
	for _, o := range k.own {
		pub, err := base64.RawStdEncoding.DecodeString(o.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("stored key %s: %w", o.KeyID, err)
		}
		if o.ExpiredTS == 0 && gomatrixserverlib.KeyID(o.KeyID) == k.keyID {
			verify[k.keyID] = gomatrixserverlib.VerifyKey{Key: pub}
		} else if o.ExpiredTS > 0 {
			old[gomatrixserverlib.KeyID(o.KeyID)] = gomatrixserverlib.OldVerifyKey{
				VerifyKey: gomatrixserverlib.VerifyKey{Key: pub},
				ExpiredTS: spec.Timestamp(o.ExpiredTS),
			}
		}
	}
	body, err := json.Marshal(gomatrixserverlib.ServerKeyFields{
		ServerName:    k.serverName,
		VerifyKeys:    verify,
		OldVerifyKeys: old,
		ValidUntilTS:  spec.AsTimestamp(k.now().Add(keyValidity)),
	})
	if err != nil {
		return nil, err
	}
	return gomatrixserverlib.SignJSON(string(k.serverName), k.keyID, k.private, body)
}

// FetcherName implements gomatrixserverlib.KeyFetcher.
func (k *keys) FetcherName() string { return "myelin-database" }

// FetchKeys implements gomatrixserverlib.KeyFetcher from memory and the
// database.
func (k *keys) FetchKeys(ctx context.Context, reqs keyRequests) (keyResults, error) {
	out := keyResults{}
	byServer := map[spec.ServerName][]string{}
	k.mu.RLock()
	for req := range reqs {
		if r, ok := k.cache[req]; ok {
			out[req] = r
		} else {
			byServer[req.ServerName] = append(byServer[req.ServerName], string(req.KeyID))
		}
	}
	k.mu.RUnlock()
	for server, ids := range byServer {
		stored, err := k.store.ServerKeys(ctx, string(server), ids)
		if err != nil {
			return nil, err
		}
		for _, s := range stored {
			pub, err := base64.RawStdEncoding.DecodeString(s.PublicKey)
			if err != nil {
				continue
			}
			req := gomatrixserverlib.PublicKeyLookupRequest{ServerName: server, KeyID: gomatrixserverlib.KeyID(s.KeyID)}
			res := gomatrixserverlib.PublicKeyLookupResult{VerifyKey: gomatrixserverlib.VerifyKey{Key: pub},
				ValidUntilTS: spec.Timestamp(s.ValidUntilTS), ExpiredTS: spec.Timestamp(s.ExpiredTS)}
			if s.ExpiredTS == 0 {
				res.ExpiredTS = gomatrixserverlib.PublicKeyNotExpired
			}
			out[req] = res
			k.remember(req, res)
		}
	}
	return out, nil
}

// StoreKeys implements gomatrixserverlib.KeyDatabase.
func (k *keys) StoreKeys(ctx context.Context, results keyResults) error {
	var rows []storage.ServerKey
	for req, res := range results {
		expired := int64(res.ExpiredTS)
		if res.ExpiredTS == gomatrixserverlib.PublicKeyNotExpired {
			expired = 0
		}
		rows = append(rows, storage.ServerKey{ServerName: string(req.ServerName), KeyID: string(req.KeyID),
			PublicKey: base64.RawStdEncoding.EncodeToString(res.Key), ValidUntilTS: int64(res.ValidUntilTS), ExpiredTS: expired})
		k.remember(req, res)
	}
	return k.store.StoreServerKeys(ctx, rows)
}

func (k *keys) remember(req gomatrixserverlib.PublicKeyLookupRequest, res gomatrixserverlib.PublicKeyLookupResult) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) > 10000 {
		clear(k.cache)
	}
	k.cache[req] = res
}

// directFetcher fetches keys from their server's /_matrix/key/v2/server
// and keeps the signed answer for notary use.
type directFetcher struct{ k *keys }

// FetcherName implements gomatrixserverlib.KeyFetcher.
func (d directFetcher) FetcherName() string { return "direct" }

// FetchKeys implements gomatrixserverlib.KeyFetcher.
func (d directFetcher) FetchKeys(ctx context.Context, reqs keyRequests) (keyResults, error) {
	out := keyResults{}
	servers := map[spec.ServerName]bool{}
	for req := range reqs {
		servers[req.ServerName] = true
	}
	var errs []error
	for server := range servers {
		sk, err := d.k.fetchDirect(ctx, server)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for id, vk := range sk.VerifyKeys {
			out[gomatrixserverlib.PublicKeyLookupRequest{ServerName: server, KeyID: id}] = gomatrixserverlib.PublicKeyLookupResult{
				VerifyKey: vk, ValidUntilTS: sk.ValidUntilTS, ExpiredTS: gomatrixserverlib.PublicKeyNotExpired}
		}
		for id, ok := range sk.OldVerifyKeys {
			out[gomatrixserverlib.PublicKeyLookupRequest{ServerName: server, KeyID: id}] = gomatrixserverlib.PublicKeyLookupResult{
				VerifyKey: ok.VerifyKey, ValidUntilTS: gomatrixserverlib.PublicKeyNotValid, ExpiredTS: ok.ExpiredTS}
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// fetchDirect asks server for its keys, checks that the answer is its own,
// signed by every key it lists and still valid, and stores it.
func (k *keys) fetchDirect(ctx context.Context, server spec.ServerName) (gomatrixserverlib.ServerKeys, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	sk, err := k.client.GetServerKeys(ctx, server)
	if err != nil {
		return sk, fmt.Errorf("fetching the keys of %s: %w", server, err)
	}
	if err := checkKeyAnswer(server, k.now(), sk); err != nil {
		return sk, err
	}
	if err := k.store.StoreKeyResponse(ctx, string(server), sk.Raw, int64(sk.ValidUntilTS)); err != nil {
		return sk, err
	}
	return sk, nil
}

// checkKeyAnswer verifies a key answer (spec: "Retrieving server keys": the
// answer is signed by each of its verify keys).
func checkKeyAnswer(server spec.ServerName, now time.Time, sk gomatrixserverlib.ServerKeys) error {
	checks, _ := gomatrixserverlib.CheckKeys(server, now, sk)
	if !checks.AllChecksOK {
		return fmt.Errorf("the key answer of %s failed its checks (name %v, valid until in the future %v, ed25519 key %v)",
			server, checks.MatchingServerName, checks.FutureValidUntilTS, checks.HasEd25519Key)
	}
	return nil
}
