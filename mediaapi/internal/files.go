package internal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrBody wraps a failure to read an upload's content from its sender (a
// connection cut, a body over the request limit): the sender's fault, not
// the server's.
var ErrBody = errors.New("reading the upload")

// files is the content-addressed store: every file lives once, at
// sha256/<2 hex>/<2 hex>/<64 hex> under the base directory, named by the
// SHA-256 of its content. Uploads arrive in tmp/ (the same file system, so
// moving one into place is an atomic rename). No path is ever built from
// anything a request says: only from a hash this process computed.
type files struct {
	base string
	// locks serialise, per first byte of the hash, a file's move into
	// place with the commit of its metadata and the clean-up when that
	// fails, so an upload never removes a file another has just recorded.
	locks [256]sync.Mutex
}

const (
	filesDir = "sha256"
	tmpDir   = "tmp"
	// copyBuffer is the size of the buffer uploads are streamed through.
	copyBuffer = 256 << 10
)

var copyBuffers = sync.Pool{New: func() any { return new([copyBuffer]byte) }}

// openFiles prepares the store under base, removing what an interrupted
// upload left in tmp/.
func openFiles(base string) (*files, error) {
	for _, dir := range []string{filesDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(base, dir), 0o700); err != nil {
			return nil, fmt.Errorf("media: creating the store: %w", err)
		}
	}
	stale, err := os.ReadDir(filepath.Join(base, tmpDir))
	if err != nil {
		return nil, fmt.Errorf("media: listing temporary files: %w", err)
	}
	for _, e := range stale {
		if err := os.Remove(filepath.Join(base, tmpDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("media: removing a temporary file: %w", err)
		}
	}
	return &files{base: base}, nil
}

// path is where the file with hex SHA-256 sum lives.
func (f *files) path(sum string) (string, error) {
	if len(sum) != sha256.Size*2 || strings.Trim(sum, "0123456789abcdef") != "" {
		return "", fmt.Errorf("media: %q is not a hex SHA-256", sum)
	}
	return filepath.Join(f.base, filesDir, sum[0:2], sum[2:4], sum), nil
}

// open opens the file with hex SHA-256 sum.
func (f *files) open(sum string) (*os.File, error) {
	p, err := f.path(sum)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("media: opening stored file: %w", err)
	}
	return file, nil
}

// received is content written to a temporary file (an upload streamed in,
// a thumbnail encoded into it), hashed as it is written; once sealed it is
// on disk (fsynced), not yet in place.
type received struct {
	tmp    *os.File
	hash   hash.Hash
	size   int64
	sha256 string
}

// discard removes the temporary file.
func (r *received) discard() {
	name := r.tmp.Name()
	_ = r.tmp.Close()
	_ = os.Remove(name)
}

// temp creates an empty temporary file to write content into.
func (f *files) temp() (*received, error) {
	tmp, err := os.CreateTemp(filepath.Join(f.base, tmpDir), "upload-*")
	if err != nil {
		return nil, fmt.Errorf("media: creating a temporary file: %w", err)
	}
	return &received{tmp: tmp, hash: sha256.New()}, nil
}

// Write appends p to the temporary file and to the hash.
func (r *received) Write(p []byte) (int, error) {
	n, err := r.tmp.Write(p)
	r.hash.Write(p[:n])
	r.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("media: writing a temporary file: %w", err)
	}
	return n, nil
}

// seal fsyncs what was written and names it by its hash.
func (r *received) seal() error {
	if err := r.tmp.Sync(); err != nil {
		return fmt.Errorf("media: syncing a temporary file: %w", err)
	}
	r.sha256 = hex.EncodeToString(r.hash.Sum(nil))
	return nil
}

// receive streams body into a temporary file while hashing it, never
// holding it whole in memory. Past limit bytes it stops and returns
// limitErr, the temporary file removed; a failure to read body wraps
// ErrBody.
func (f *files) receive(body io.Reader, limit int64, limitErr error) (*received, error) {
	r, err := f.temp()
	if err != nil {
		return nil, err
	}
	if err := r.fill(body, limit, limitErr); err != nil {
		r.discard()
		return nil, err
	}
	return r, nil
}

// fill copies at most limit bytes of body into the temporary file and
// seals it.
func (r *received) fill(body io.Reader, limit int64, limitErr error) error {
	src := &readErr{r: io.LimitReader(body, limit+1)}
	buf := copyBuffers.Get().(*[copyBuffer]byte)
	defer copyBuffers.Put(buf)
	n, err := io.CopyBuffer(r, src, buf[:])
	switch {
	case src.err != nil:
		return fmt.Errorf("%w: %w", ErrBody, src.err)
	case err != nil:
		return err
	case n > limit:
		return limitErr
	}
	return r.seal()
}

// readErr remembers a read error, to tell the sender's failures from the
// disk's.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}

// keep moves each of rs into place, unless a file with the same content is
// already there (then it is dropped: the same bytes are stored once, also
// within rs), and runs record, which commits the metadata naming them.
// When placing or record fails, the files this call put in place are
// removed again unless referenced (some metadata row names the hash) says
// otherwise. rs are consumed either way; added says which were new.
func (f *files) keep(rs []*received, record func() error, referenced func(sum string) (bool, error)) (added []bool, err error) {
	dsts := make([]string, len(rs))
	for i, r := range rs {
		if dsts[i], err = f.path(r.sha256); err != nil {
			discardAll(rs)
			return nil, err
		}
	}
	defer f.lock(rs)()
	added = make([]bool, len(rs))
	for i, r := range rs {
		if added[i], err = f.place(r, dsts[i]); err != nil {
			discardAll(rs[i+1:])
			f.removeAdded(dsts, added, rs, referenced)
			return nil, err
		}
	}
	if err := record(); err != nil {
		f.removeAdded(dsts, added, rs, referenced)
		return nil, err
	}
	return added, nil
}

// lock takes the locks of the hashes of rs, each once and in ascending
// order (so two batches never wait for each other in a cycle), and returns
// what releases them.
func (f *files) lock(rs []*received) (unlock func()) {
	var held [256]bool
	for _, r := range rs {
		held[hashByte(r.sha256)] = true
	}
	for b, h := range held {
		if h {
			f.locks[b].Lock()
		}
	}
	return func() {
		for b, h := range held {
			if h {
				f.locks[b].Unlock()
			}
		}
	}
}

// discardAll removes the temporary files of rs.
func discardAll(rs []*received) {
	for _, r := range rs {
		r.discard()
	}
}

// removeAdded removes the files at dsts that were added, unless referenced
// says a metadata row names them (or cannot tell: then they stay).
func (f *files) removeAdded(dsts []string, added []bool, rs []*received, referenced func(sum string) (bool, error)) {
	for i, dst := range dsts {
		if added[i] {
			if ref, err := referenced(rs[i].sha256); err == nil && !ref {
				_ = os.Remove(dst)
			}
		}
	}
}

// place renames r to dst and makes the rename durable, or drops r when dst
// exists already.
func (f *files) place(r *received, dst string) (added bool, err error) {
	if _, err := os.Stat(dst); err == nil {
		r.discard()
		return false, nil
	}
	dir := filepath.Dir(dst)
	if err := f.makeDirs(dir); err != nil {
		r.discard()
		return false, err
	}
	if err := r.tmp.Close(); err != nil {
		r.discard()
		return false, fmt.Errorf("media: closing a temporary file: %w", err)
	}
	if err := os.Rename(r.tmp.Name(), dst); err != nil {
		_ = os.Remove(r.tmp.Name())
		return false, fmt.Errorf("media: moving an upload into place: %w", err)
	}
	if err := syncDir(dir); err != nil {
		_ = os.Remove(dst) // not durable: as if never placed
		return false, err
	}
	return true, nil
}

// makeDirs creates dir (sha256/ab/cd) and its parent if missing, syncing
// the directories that gained an entry so the new ones survive a crash.
func (f *files) makeDirs(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	_, err := os.Stat(parent)
	parentExisted := err == nil
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("media: creating a directory: %w", err)
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	if parentExisted {
		return nil
	}
	return syncDir(filepath.Dir(parent))
}

// syncDir fsyncs a directory, making the entries created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("media: opening a directory to sync: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("media: syncing a directory: %w", err)
	}
	return nil
}

// hashByte is the first byte of a hex hash checked by path (it picks the
// hash's lock).
func hashByte(sum string) byte {
	b, _ := hex.DecodeString(sum[:2])
	return b[0]
}
