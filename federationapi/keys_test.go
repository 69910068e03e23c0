package federationapi_test

import (
	"crypto/ed25519"
	"net/http"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
)

// TestServerKeys: GET /_matrix/key/v2/server is this server's key answer
// (spec: "Publishing Keys"): its name, its current key, valid in the
// future, signed by that key, so that the checks another server applies
// pass.
func TestServerKeys(t *testing.T) {
	f := newFed(t)
	res := f.Do(t, http.MethodGet, "/_matrix/key/v2/server", "", nil)
	res.Want(t, http.StatusOK)
	var sk gomatrixserverlib.ServerKeys
	res.Decode(t, &sk)
	if sk.ServerName != serverName {
		t.Fatalf("server_name %q", sk.ServerName)
	}
	pub := f.Key.Private.Public().(ed25519.PublicKey)
	vk, ok := sk.VerifyKeys[gomatrixserverlib.KeyID(f.Key.ID)]
	if !ok || !pub.Equal(ed25519.PublicKey(vk.Key)) {
		t.Fatalf("verify_keys %v, want %s", sk.VerifyKeys, f.Key.ID)
	}
	if err := gomatrixserverlib.VerifyJSON(string(serverName), gomatrixserverlib.KeyID(f.Key.ID), pub, res.Body); err != nil {
		t.Fatalf("the answer's signature: %v", err)
	}
	sk.Raw = res.Body
	if checks, _ := gomatrixserverlib.CheckKeys(serverName, time.Now(), sk); !checks.AllChecksOK {
		t.Fatalf("another server's checks fail: %+v", checks)
	}
	if until := sk.ValidUntilTS.Time(); until.Before(time.Now().Add(24 * time.Hour)) {
		t.Fatalf("valid_until_ts %v: other servers would fetch it again at once", until)
	}
}
