// Package signingkey loads the server's ed25519 signing key, or generates it
// on first start. The file format is Synapse's: one line
// "ed25519 <key id> <unpadded base64 seed>", so keys move between the two.
package signingkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Key is a server signing key.
type Key struct {
	ID      string // "ed25519:a_XXXX"
	Private ed25519.PrivateKey
}

// LoadOrGenerate reads the key at path, or creates one there (mode 0600).
func LoadOrGenerate(path string) (*Key, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := parse(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("signingkey: %s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("signingkey: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	var idb [3]byte
	_, _ = rand.Read(idb[:])
	version := "a_" + strings.NewReplacer("-", "x", "_", "y").Replace(base64.RawURLEncoding.EncodeToString(idb[:]))
	line := fmt.Sprintf("ed25519 %s %s\n", version, base64.RawStdEncoding.EncodeToString(priv.Seed()))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("signingkey: %w", err)
	}
	// O_EXCL: two processes starting at once must not write two keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadOrGenerate(path)
		}
		return nil, false, fmt.Errorf("signingkey: %w", err)
	}
	if _, err := f.WriteString(line); err != nil {
		return nil, false, fmt.Errorf("signingkey: writing %s: %w", path, errors.Join(err, f.Close()))
	}
	if err := f.Sync(); err != nil {
		return nil, false, fmt.Errorf("signingkey: syncing %s: %w", path, errors.Join(err, f.Close()))
	}
	// Close reports a write the kernel deferred: the key is not on disk
	// unless it succeeds.
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("signingkey: closing %s: %w", path, err)
	}
	return &Key{ID: "ed25519:" + version, Private: priv}, true, nil
}

func parse(s string) (*Key, error) {
	fields := strings.Fields(s)
	if len(fields) != 3 || fields[0] != "ed25519" {
		return nil, errors.New(`want one line "ed25519 <key id> <base64 seed>"`)
	}
	seed, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(fields[2], "="))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("the seed is not 32 bytes of base64")
	}
	return &Key{ID: "ed25519:" + fields[1], Private: ed25519.NewKeyFromSeed(seed)}, nil
}
