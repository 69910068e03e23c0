package export

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// zipStore writes entries straight into the zip while no other is open;
// an entry opened meanwhile goes to a temporary file, added to the zip
// when no entry is open any more (at the latest on finish).
type zipStore struct {
	mu      sync.Mutex
	zw      *zip.Writer
	open    bool         // an entry is being written straight
	spooled []*spoolFile // closed spooled entries waiting
}

func (z *zipStore) create(name string) (io.WriteCloser, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if !z.open {
		w, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zipMethod(name), Modified: time.Now()})
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		z.open = true
		return &directEntry{w: w, z: z}, nil
	}
	f, err := os.CreateTemp("", "myelin-export-*")
	if err != nil {
		return nil, fmt.Errorf("export: spooling %s: %w", name, err)
	}
	return &spoolFile{File: f, name: name, z: z}, nil
}

// zipMethod stores media as they are (mostly compressed already) and
// deflates the text files.
func zipMethod(name string) uint16 {
	if len(name) > 6 && name[:6] == "media/" {
		return zip.Store
	}
	return zip.Deflate
}

type directEntry struct {
	w io.Writer
	z *zipStore
}

func (e *directEntry) Write(p []byte) (int, error) { return e.w.Write(p) }

func (e *directEntry) Close() error {
	e.z.mu.Lock()
	defer e.z.mu.Unlock()
	e.z.open = false
	return e.z.flushSpooled()
}

type spoolFile struct {
	*os.File
	name string
	z    *zipStore
}

func (f *spoolFile) Close() error {
	f.z.mu.Lock()
	defer f.z.mu.Unlock()
	f.z.spooled = append(f.z.spooled, f)
	if f.z.open {
		return nil
	}
	return f.z.flushSpooled()
}

// flushSpooled copies the waiting spooled entries into the zip (z.mu held,
// no entry open).
func (z *zipStore) flushSpooled() error {
	var errs []error
	for _, f := range z.spooled {
		errs = append(errs, z.copySpooled(f))
	}
	z.spooled = nil
	return errors.Join(errs...)
}

func (z *zipStore) copySpooled(f *spoolFile) error {
	defer func() { _ = os.Remove(f.Name()) }()
	defer func() { _ = f.File.Close() }()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("export: spooled %s: %w", f.name, err)
	}
	w, err := z.zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zipMethod(f.name), Modified: time.Now()})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := io.Copy(w, f.File); err != nil {
		return fmt.Errorf("export: spooled %s: %w", f.name, err)
	}
	return nil
}

func (z *zipStore) finish() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return errors.Join(z.flushSpooled(), z.zw.Close())
}
