package transcribe

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/testenv"
)

// requirePrograms skips the test when a program it needs is not installed,
// or fails it under CI, where .ci/services.sh installs them all.
func requirePrograms(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			hint := "apt-get install -y pocketsphinx pocketsphinx-en-us ffmpeg espeak-ng; .ci/services.sh does this"
			if testenv.InCI() {
				t.Fatalf("%s is not installed under CI: %s", p, hint)
			}
			t.Skipf("%s is not installed; skipping (%s)", p, hint)
		}
	}
}

// requirePocketsphinx is requirePrograms for pocketsphinx with its model.
func requirePocketsphinx(t testing.TB) {
	t.Helper()
	requirePrograms(t, "ffmpeg", "espeak-ng", DefaultPocketsphinxBinary)
	if missing := (PocketsphinxConfig{}).missing(); missing != "" {
		if testenv.InCI() {
			t.Fatalf("pocketsphinx cannot run under CI: %s", missing)
		}
		t.Skipf("pocketsphinx cannot run: %s; skipping", missing)
	}
}

// sentence is a test utterance and the words pocketsphinx finds in it,
// spoken by espeak-ng and sent both as WAV and as an Ogg/Opus voice
// message. The key words are what pocketsphinx actually recognises in both
// formats (checked by hand first); espeak-ng's robotic voice is far from
// the speech the en-us model was trained on, and the default voice gives
// much worse results than the robosoft4 variant used here.
type sentence struct {
	name string
	text string
	keys []string
}

var sentences = []sentence{
	{"call", "please call me tomorrow morning", []string{"please", "call", "me", "tomorrow", "morning"}},
	{"meeting", "the meeting starts at ten o'clock", []string{"meeting", "starts"}},
	{"money", "we need more money for the project", []string{"need", "more", "money"}},
}

// espeakVoice and espeakSpeed are the voice and words per minute the
// sentences are spoken with.
const (
	espeakVoice = "en-us+robosoft4"
	espeakSpeed = "140"
)

// speechFormat is how a sentence is sent: its file and content type.
type speechFormat struct {
	name        string
	contentType string
	// ffmpegArgs encode espeak-ng's WAV into the file sent (nil: the WAV is
	// sent as it is); ext is that file's extension.
	ffmpegArgs []string
	ext        string
}

var speechFormats = []speechFormat{
	{name: "wav", contentType: "audio/wav", ext: "wav"},
	{name: "ogg-opus", contentType: "audio/ogg", ffmpegArgs: []string{"-c:a", "libopus", "-b:a", "24k"}, ext: "ogg"},
}

// speak writes text spoken by espeak-ng to a WAV file (22.05 kHz mono) in
// dir and returns its path and how long it plays.
func speak(t testing.TB, dir, name, text string) (string, time.Duration) {
	t.Helper()
	return speakIn(t, espeakVoice, dir, name, text)
}

// speakIn is speak with another espeak-ng voice.
func speakIn(t testing.TB, voice, dir, name, text string) (string, time.Duration) {
	t.Helper()
	path := filepath.Join(dir, name+".wav")
	out, err := exec.Command("espeak-ng", "-v", voice, "-s", espeakSpeed, "-w", path, text).CombinedOutput()
	if err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	c, err := readWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	const espeakBytesPerSecond = 22050 * 2
	return path, time.Duration(c.dataLen) * time.Second / espeakBytesPerSecond
}

// encode converts the WAV file in to the format f with ffmpeg, returning
// the new file (in itself when f is WAV).
func encode(t testing.TB, in string, f speechFormat) string {
	t.Helper()
	if f.ffmpegArgs == nil {
		return in
	}
	out := strings.TrimSuffix(in, ".wav") + "." + f.ext
	ffmpeg(t, append(append([]string{"-i", in}, f.ffmpegArgs...), out)...)
	return out
}

// ffmpeg runs ffmpeg with args (quietly, overwriting its output).
func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", append([]string{"-nostdin", "-loglevel", "error", "-y"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v: %s", args, err, out)
	}
}

// wordErrorRate is the word error rate of hyp against ref: the word-level
// Levenshtein distance (substitutions, insertions, deletions) over the
// number of reference words.
func wordErrorRate(ref, hyp string) float64 {
	r, h := words(ref), words(hyp)
	prev := make([]int, len(h)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(r); i++ {
		cur := make([]int, len(h)+1)
		cur[0] = i
		for j := 1; j <= len(h); j++ {
			sub := prev[j-1]
			if r[i-1] != h[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev = cur
	}
	return float64(prev[len(h)]) / float64(len(r))
}

// words splits text into lower-case words.
func words(text string) []string { return strings.Fields(strings.ToLower(text)) }

func TestWordErrorRate(t *testing.T) {
	for _, tc := range []struct {
		ref, hyp string
		want     float64
	}{
		{"please call me", "please call me", 0},
		{"please call me", "please tell me", 1.0 / 3},         // a substitution
		{"please call me", "please me", 1.0 / 3},              // a deletion
		{"please call me", "oh please call me now", 2.0 / 3},  // two insertions
		{"the meeting starts", "", 1},                         // all deleted
		{"we need more money", "we need money more", 2.0 / 4}, // order matters
	} {
		if got := wordErrorRate(tc.ref, tc.hyp); got != tc.want {
			t.Errorf("WER(%q, %q) = %v, want %v", tc.ref, tc.hyp, got, tc.want)
		}
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
