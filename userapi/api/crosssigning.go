package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// The usages of cross-signing keys (spec: "Cross-signing", CrossSigningKey
// "usage").
const (
	UsageMaster      = "master"
	UsageSelfSigning = "self_signing"
	UsageUserSigning = "user_signing"
)

// CrossSigningUpload is the body of POST /keys/device_signing/upload: each
// key a CrossSigningKey object, nil when not sent.
type CrossSigningUpload struct {
	Master      json.RawMessage
	SelfSigning json.RawMessage
	UserSigning json.RawMessage
}

// CrossSigningKeys are users' cross-signing keys as POST /keys/query
// returns them, each map by user ID (spec: master_keys, self_signing_keys,
// user_signing_keys).
type CrossSigningKeys struct {
	Master      map[string]json.RawMessage
	SelfSigning map[string]json.RawMessage
	UserSigning map[string]json.RawMessage
}

// Errors of cross-signing (spec: "POST /keys/device_signing/upload", "POST
// /keys/signatures/upload").
var (
	// ErrCrossSigningAuthRequired is an upload that would replace a user's
	// keys without user-interactive authentication: the handler runs UIA
	// and uploads again.
	ErrCrossSigningAuthRequired = coded.New("replacing cross-signing keys requires authentication",
		http.StatusUnauthorized, "M_UNAUTHORIZED")
	// ErrBadCrossSigningKey is a key that is not a CrossSigningKey of the
	// expected usage with exactly one ed25519 key named after its value.
	ErrBadCrossSigningKey = coded.New("cross-signing key malformed, of the wrong usage or not exactly one ed25519 key",
		http.StatusBadRequest, "M_INVALID_PARAM")
	// ErrCrossSigningNotYours is a key whose user_id is not the uploader.
	ErrCrossSigningNotYours = coded.New("cross-signing keys must name the uploading user", http.StatusBadRequest, "M_INVALID_PARAM")
	// ErrNoMasterKey is a self-signing or user-signing key uploaded with no
	// master key sent or stored.
	ErrNoMasterKey = coded.New("no master signing key is available", http.StatusBadRequest, "M_MISSING_PARAM")
	// ErrInvalidSignature is a missing or wrong signature, or a signed
	// object that differs from the key it claims to sign.
	ErrInvalidSignature = coded.New("invalid signature", http.StatusBadRequest, "M_INVALID_SIGNATURE")
	// ErrKeyIDInUse is a cross-signing public key equal to one of the
	// user's device IDs, which share a namespace (spec: "Cross-signing").
	ErrKeyIDInUse = coded.New("key ID in use by a device", http.StatusForbidden, "M_FORBIDDEN")
	// ErrUnknownSignedKey is a signature on a key the server does not
	// know: no such device or master key, or no key to sign it with.
	ErrUnknownSignedKey = coded.New("unknown key, or no cross-signing key to sign it with", http.StatusBadRequest, "M_INVALID_PARAM")
	// ErrRemoteSignedKey is a signature on another server's user's device
	// or self-signing key: only their own keys sign those, on their server.
	// Their master key may be signed with the signer's user-signing key.
	ErrRemoteSignedKey = coded.New("only the master key of another server's user can be signed", http.StatusBadRequest, "M_UNKNOWN")
)

// CrossSigning is the cross-signing surface (spec: "Cross-signing"): the
// users' cross-signing keys and the signatures they upload.
type CrossSigning interface {
	// UploadCrossSigningKeys checks and stores a user's cross-signing keys.
	// When a master key is stored and the upload holds a key that differs
	// from the stored one, it changes nothing and returns
	// ErrCrossSigningAuthRequired unless authenticated.
	UploadCrossSigningKeys(ctx context.Context, localpart Localpart, up CrossSigningUpload, authenticated bool) error
	// UploadSignatures checks and stores signatures the user made: signed
	// maps user ID to key ID (a device ID or a master key's public key) to
	// the signed key. A key that fails is in the result's failures (by
	// user and key ID, a coded error) and the others are stored.
	UploadSignatures(ctx context.Context, localpart Localpart, signed map[string]map[string]json.RawMessage) (
		map[string]map[string]error, error)
	// QueryCrossSigningKeys returns the master and self-signing keys of the
	// local users in userIDs that have them, the user-signing key of
	// requester alone, and on master keys the signatures requester may see.
	// requester "" (another server) sees no user-signing key and only
	// signatures of the keys' owners.
	QueryCrossSigningKeys(ctx context.Context, requester string, userIDs []string) (CrossSigningKeys, error)
	// WithRequesterSignatures returns masterKeys, other servers' users'
	// master keys by user ID as their servers sent them, with the
	// signatures requester made on them merged in (spec: "Key and signature
	// security": a user sees the signatures of their own user-signing key).
	// A key requester has not signed is returned unchanged.
	WithRequesterSignatures(ctx context.Context, requester string, masterKeys map[string]json.RawMessage) (
		map[string]json.RawMessage, error)
}
