package export

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// ManifestFile is one file of an export as manifest.json lists it.
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest is manifest.json: every other file of the export with its
// SHA-256 digest, so a reader can check the export is whole and unchanged.
type Manifest struct {
	Format string         `json:"format"`
	Files  []ManifestFile `json:"files"`
}

// Sink is where an export's files go: a directory (the CLI) or a zip
// stream (the admin endpoint). Files may be open several at once; each
// file's digest is taken as it is written and Finish writes manifest.json.
type Sink struct {
	store  store
	mu     sync.Mutex
	files  []ManifestFile
	format string
}

// store is a Sink's storage.
type store interface {
	create(name string) (io.WriteCloser, error)
	finish() error
}

// NewDirSink writes the export into dir (created if missing; files in it
// with the export's names are replaced).
func NewDirSink(dir, format string) (*Sink, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &Sink{store: dirStore(dir), format: format}, nil
}

// NewZipSink writes the export as a zip archive to w, one entry after the
// other (a file opened while another is open is spooled to a temporary
// file and added when it can be), so memory stays bounded.
func NewZipSink(w io.Writer, format string) *Sink {
	return &Sink{store: &zipStore{zw: zip.NewWriter(w)}, format: format}
}

// Create opens a new file of the export (a slash-separated relative path).
func (s *Sink) Create(name string) (io.WriteCloser, error) {
	if name == "" || path.IsAbs(name) || strings.Contains(name, "..") || path.Clean(name) != name {
		return nil, fmt.Errorf("export: bad file name %q", name)
	}
	w, err := s.store.create(name)
	if err != nil {
		return nil, err
	}
	return &hashed{w: w, h: sha256.New(), name: name, sink: s}, nil
}

// WriteJSON writes one file holding v as indented JSON.
func (s *Sink) WriteJSON(name string, v any) error {
	w, err := s.Create(name)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return errors.Join(enc.Encode(v), w.Close())
}

// Finish writes manifest.json and completes the archive.
func (s *Sink) Finish() error {
	s.mu.Lock()
	files := append([]ManifestFile(nil), s.files...)
	s.mu.Unlock()
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	w, err := s.store.create(ManifestName)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := errors.Join(enc.Encode(Manifest{Format: s.format, Files: files}), w.Close()); err != nil {
		return fmt.Errorf("export: writing the manifest: %w", err)
	}
	return s.store.finish()
}

// Bytes is the size of the files written so far (before compression).
func (s *Sink) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, f := range s.files {
		n += f.Size
	}
	return n
}

// ManifestName is the manifest's file name.
const ManifestName = "manifest.json"

// hashed digests a file as it is written and records it on Close.
type hashed struct {
	w    io.WriteCloser
	h    hash.Hash
	n    int64
	name string
	sink *Sink
}

func (f *hashed) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.h.Write(p[:n])
	f.n += int64(n)
	return n, err
}

func (f *hashed) Close() error {
	if err := f.w.Close(); err != nil {
		return fmt.Errorf("export: writing %s: %w", f.name, err)
	}
	f.sink.mu.Lock()
	f.sink.files = append(f.sink.files, ManifestFile{Path: f.name, Size: f.n, SHA256: hex.EncodeToString(f.h.Sum(nil))})
	f.sink.mu.Unlock()
	return nil
}

type dirStore string

func (d dirStore) create(name string) (io.WriteCloser, error) {
	p := filepath.Join(string(d), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	f, err := os.Create(p)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return f, nil
}

func (dirStore) finish() error { return nil }
