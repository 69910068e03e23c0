package signingkey

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrGenerate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "signing.key")
	k1, created, err := LoadOrGenerate(path)
	if err != nil || !created {
		t.Fatalf("generate: created=%v err=%v", created, err)
	}
	if !strings.HasPrefix(k1.ID, "ed25519:a_") {
		t.Fatalf("key id %q", k1.ID)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v err %v", st.Mode(), err)
	}
	k2, created, err := LoadOrGenerate(path)
	if err != nil || created {
		t.Fatalf("reload: created=%v err=%v", created, err)
	}
	if k1.ID != k2.ID || !k1.Private.Equal(k2.Private) {
		t.Fatal("reloaded key differs")
	}
	if err := os.WriteFile(path, []byte("ed25519 a_x notbase64!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrGenerate(path); err == nil {
		t.Fatal("corrupt key file accepted")
	}
}
