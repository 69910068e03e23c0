// Package speech is what the transcription tests share: spoken sentences
// made with espeak-ng and encoded with ffmpeg as voice messages are sent,
// the word error rate of what an engine heard, and local stand-ins for the
// remote speech-to-text services (an OpenAI-compatible server, Baidu) that
// check every request against the service's API and answer in its format.
//
//	speech.Require(t, "ffmpeg", "espeak-ng")
//	wav, played := speech.Speak(t, dir, "call", speech.Sentences[0].Text)
//	ogg := speech.Encode(t, wav, speech.OggOpus)
package speech

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/testenv"
)

// Skip skips the test because of what is missing (said by format and
// args), or fails it under CI, where .ci/services.sh installs every program
// the transcription tests need.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	const hint = "apt-get install -y pocketsphinx pocketsphinx-en-us ffmpeg espeak-ng; .ci/services.sh does this"
	what := strings.TrimSpace(strings.TrimSuffix(fmt.Sprintf(format, args...), "."))
	if testenv.InCI() {
		t.Fatalf("%s under CI: %s", what, hint)
	}
	t.Skipf("%s; skipping (%s)", what, hint)
}

// Require skips the test (or fails it under CI) when one of programs is not
// installed.
func Require(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			Skip(t, "%s is not installed", p)
		}
	}
}

// Sentence is a test utterance and the words pocketsphinx finds in it,
// spoken by espeak-ng and sent both as WAV and as an Ogg/Opus voice
// message. The key words are what pocketsphinx actually recognises in both
// formats (checked by hand first); espeak-ng's robotic voice is far from
// the speech the en-us model was trained on, and the default voice gives
// much worse results than the robosoft4 variant used here.
type Sentence struct {
	Name string
	Text string
	Keys []string
}

// Sentences are the three utterances of the transcription tests.
var Sentences = []Sentence{
	// Not "... tomorrow morning": since Debian's 2026-12 updates of
	// espeak-ng and ffmpeg, pocketsphinx hears that one as "please can we do
	// or do" once it has gone through Opus.
	{"call", "please call me tomorrow", []string{"please", "call", "me", "tomorrow"}},
	{"meeting", "the meeting starts at ten o'clock", []string{"meeting", "starts"}},
	{"money", "we need more money for the project", []string{"need", "more", "money"}},
}

// Voice and Speed are the espeak-ng voice and words per minute the
// sentences are spoken with.
const (
	Voice = "en-us+robosoft4"
	Speed = "140"
)

// Format is how a sentence is sent: its file and content type.
type Format struct {
	Name        string
	ContentType string
	// FFmpegArgs encode espeak-ng's WAV into the file sent (nil: the WAV
	// is sent as it is); Ext is that file's extension.
	FFmpegArgs []string
	Ext        string
}

// The formats voice messages are sent in: WAV as espeak-ng writes it, and
// Ogg/Opus as Element and other clients record them.
var (
	WAV     = Format{Name: "wav", ContentType: "audio/wav", Ext: "wav"}
	OggOpus = Format{Name: "ogg-opus", ContentType: "audio/ogg", FFmpegArgs: []string{"-c:a", "libopus", "-b:a", "24k"}, Ext: "ogg"}
	Formats = []Format{WAV, OggOpus}
)

// Speak writes text spoken by espeak-ng in Voice to a WAV file (22.05 kHz
// mono) in dir and returns its path and how long it plays.
func Speak(t testing.TB, dir, name, text string) (string, time.Duration) {
	t.Helper()
	return SpeakIn(t, Voice, dir, name, text)
}

// SpeakIn is Speak with another espeak-ng voice ("cmn" for Mandarin).
func SpeakIn(t testing.TB, voice, dir, name, text string) (string, time.Duration) {
	t.Helper()
	path := filepath.Join(dir, name+".wav")
	out, err := exec.Command("espeak-ng", "-v", voice, "-s", Speed, "-w", path, text).CombinedOutput()
	if err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, ParseWAV(t, data).Duration()
}

// Encode converts the WAV file in to the format f with ffmpeg, returning
// the new file (in itself when f is WAV).
func Encode(t testing.TB, in string, f Format) string {
	t.Helper()
	if f.FFmpegArgs == nil {
		return in
	}
	out := strings.TrimSuffix(in, ".wav") + "." + f.Ext
	FFmpeg(t, append(append([]string{"-i", in}, f.FFmpegArgs...), out)...)
	return out
}

// FFmpeg runs ffmpeg with args (quietly, overwriting its output).
func FFmpeg(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", append([]string{"-nostdin", "-loglevel", "error", "-y"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v: %s", args, err, out)
	}
}

// WordErrorRate is the word error rate of hyp against ref: the word-level
// Levenshtein distance (substitutions, insertions, deletions) over the
// number of reference words.
func WordErrorRate(ref, hyp string) float64 {
	r, h := Words(ref), Words(hyp)
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

// Words splits text into lower-case words.
func Words(text string) []string { return strings.Fields(strings.ToLower(text)) }

// WAVFormat is what a WAV file's fmt and data chunks say.
type WAVFormat struct {
	AudioFormat, Channels, Bits int
	Rate                        int
	DataLen                     int
}

// Duration is how long the samples play.
func (f WAVFormat) Duration() time.Duration {
	bytesPerSecond := f.Rate * f.Channels * f.Bits / 8
	if bytesPerSecond == 0 {
		return 0
	}
	return time.Duration(f.DataLen) * time.Second / time.Duration(bytesPerSecond)
}

// ParseWAV reads the format of a WAV file, independently of the
// transcription engines' own reader, to check what they were given or sent.
func ParseWAV(t testing.TB, data []byte) WAVFormat {
	t.Helper()
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		t.Fatalf("not a WAV file: %q", data[:min(len(data), 12)])
	}
	var f WAVFormat
	for rest := data[12:]; len(rest) >= 8; {
		id, size := string(rest[0:4]), int(binary.LittleEndian.Uint32(rest[4:8]))
		body := rest[8:min(len(rest), 8+size)]
		switch id {
		case "fmt ":
			f.AudioFormat = int(binary.LittleEndian.Uint16(body[0:2]))
			f.Channels = int(binary.LittleEndian.Uint16(body[2:4]))
			f.Rate = int(binary.LittleEndian.Uint32(body[4:8]))
			f.Bits = int(binary.LittleEndian.Uint16(body[14:16]))
		case "data":
			f.DataLen = len(body)
		}
		rest = rest[min(len(rest), 8+size+size%2):]
	}
	return f
}
