package transcribe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/test/speech"
)

// requirePocketsphinx skips the test (or fails it under CI) when
// pocketsphinx, its model, ffmpeg or espeak-ng is not installed.
func requirePocketsphinx(t testing.TB) {
	t.Helper()
	speech.Require(t, "ffmpeg", "espeak-ng", DefaultPocketsphinxBinary)
	if missing := (PocketsphinxConfig{}).missing(); missing != "" {
		speech.Skip(t, "pocketsphinx cannot run: %s", missing)
	}
}

// isolateTemp points the temporary directory at a fresh one for the test,
// so that it can check what transcription leaves there.
func isolateTemp(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return dir
}

// assertNothingLeft checks that no temporary file and no process of a
// transcription outlives it: tmp is empty and no process runs with a
// command line naming it.
func assertNothingLeft(t *testing.T, tmp string) {
	t.Helper()
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		t.Errorf("temporary files left in %s: %v", tmp, entries)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(cmdline), tmp) {
			t.Errorf("process still running: %s", strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
}
