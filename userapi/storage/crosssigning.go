package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
)

// CrossSigningKey is one of a user's cross-signing keys as uploaded: its
// usage (api.UsageMaster, ...), its key name ("ed25519:<public key>") and
// the key object.
type CrossSigningKey struct {
	Usage   string
	KeyID   string
	KeyJSON json.RawMessage
}

// Signature is a signature uploaded on a key (see migration 005).
type Signature struct {
	TargetUser  string
	TargetKeyID string // a device ID or a master key's public key
	SignerUser  string
	SignerKeyID string // "ed25519:<device ID or public key>"
	Signature   string
}

// CrossSigningKeys returns a user's cross-signing keys by usage.
func (s *Storage) CrossSigningKeys(ctx context.Context, localpart api.Localpart) (map[string]CrossSigningKey, error) {
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (CrossSigningKey, error) {
		var k CrossSigningKey
		var j string
		err := sc.Scan(&k.Usage, &k.KeyID, &j)
		k.KeyJSON = json.RawMessage(j)
		return k, err
	}, `SELECT key_usage, key_id, key_json FROM userapi_cross_signing_keys WHERE localpart = $1`, localpart)
	if err != nil {
		return nil, fmt.Errorf("storage: reading cross-signing keys: %w", err)
	}
	out := make(map[string]CrossSigningKey, len(rows))
	for _, k := range rows {
		out[k.Usage] = k
	}
	return out, nil
}

// SetCrossSigningKey stores (or replaces) a user's key of k.Usage.
func (s *Storage) SetCrossSigningKey(ctx context.Context, localpart api.Localpart, k CrossSigningKey) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_cross_signing_keys (localpart, key_usage, key_id, key_json)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (localpart, key_usage) DO UPDATE SET key_id = EXCLUDED.key_id, key_json = EXCLUDED.key_json`,
		localpart, k.Usage, k.KeyID, string(k.KeyJSON))
	if err != nil {
		return fmt.Errorf("storage: writing cross-signing key: %w", err)
	}
	return nil
}

// SetSignature stores a signature, replacing the one the same signer's key
// made on the same target before. It reports whether anything changed.
func (s *Storage) SetSignature(ctx context.Context, sig Signature) (bool, error) {
	res, err := s.db.Exec(ctx, `INSERT INTO userapi_cross_signing_sigs
			(target_user, target_key_id, signer_user, signer_key_id, signature)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (target_user, target_key_id, signer_user, signer_key_id) DO UPDATE SET signature = EXCLUDED.signature
		WHERE userapi_cross_signing_sigs.signature <> EXCLUDED.signature`,
		sig.TargetUser, sig.TargetKeyID, sig.SignerUser, sig.SignerKeyID, sig.Signature)
	if err != nil {
		return false, fmt.Errorf("storage: writing signature: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Signatures returns the signatures on targetUser's keys made by one of
// signers, ordered by target key, signer and signer key.
func (s *Storage) Signatures(ctx context.Context, targetUser string, signers []string) ([]Signature, error) {
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (Signature, error) {
		var g Signature
		return g, sc.Scan(&g.TargetUser, &g.TargetKeyID, &g.SignerUser, &g.SignerKeyID, &g.Signature)
	}, `SELECT target_user, target_key_id, signer_user, signer_key_id, signature FROM userapi_cross_signing_sigs
		WHERE target_user = $1 AND signer_user = ANY($2) ORDER BY target_key_id, signer_user, signer_key_id`,
		targetUser, sqlutil.List(signers))
	if err != nil {
		return nil, fmt.Errorf("storage: reading signatures: %w", err)
	}
	return rows, nil
}

// SignaturesBy returns the signatures signer made on the keys of the users
// in targets, ordered by target user, target key and signer key.
func (s *Storage) SignaturesBy(ctx context.Context, signer string, targets []string) ([]Signature, error) {
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (Signature, error) {
		var g Signature
		return g, sc.Scan(&g.TargetUser, &g.TargetKeyID, &g.SignerUser, &g.SignerKeyID, &g.Signature)
	}, `SELECT target_user, target_key_id, signer_user, signer_key_id, signature FROM userapi_cross_signing_sigs
		WHERE target_user = ANY($1) AND signer_user = $2 ORDER BY target_user, target_key_id, signer_key_id`,
		sqlutil.List(targets), signer)
	if err != nil {
		return nil, fmt.Errorf("storage: reading signatures: %w", err)
	}
	return rows, nil
}
