package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
)

// Verify checks an export (a directory as os.DirFS, or a zip as
// zip.Reader) against its manifest: every file listed has its size and
// SHA-256 digest, and no file is left out of the manifest.
func Verify(fsys fs.FS) (*Manifest, error) {
	raw, err := fs.ReadFile(fsys, ManifestName)
	if err != nil {
		return nil, fmt.Errorf("export: reading the manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("export: the manifest: %w", err)
	}
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Path] = true
		if err := verifyFile(fsys, f); err != nil {
			return nil, err
		}
	}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == ManifestName {
			return err
		}
		if !listed[p] {
			return fmt.Errorf("export: %s is not in the manifest", p)
		}
		return nil
	})
	return &m, err
}

func verifyFile(fsys fs.FS, f ManifestFile) error {
	r, err := fsys.Open(f.Path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer func() { _ = r.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("export: reading %s: %w", f.Path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != f.Size || got != f.SHA256 {
		return fmt.Errorf("export: %s has %d bytes with SHA-256 %s; the manifest says %d bytes, %s", f.Path, n, got, f.Size, f.SHA256)
	}
	return nil
}
