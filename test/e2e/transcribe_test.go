package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/server"
	"github.com/myelin-im/myelin/test/speech"
)

// voiceMessage is a test sentence spoken by espeak-ng and encoded as an
// Ogg/Opus voice message.
type voiceMessage struct {
	speech.Sentence
	ogg    []byte
	played time.Duration
}

// voiceMessages speaks the three test sentences (skipping the test, or
// failing it under CI, without the programs transcription needs).
func voiceMessages(tb testing.TB) []voiceMessage {
	tb.Helper()
	speech.Require(tb, "ffmpeg", "espeak-ng", "pocketsphinx_continuous")
	var out []voiceMessage
	for _, s := range speech.Sentences {
		wav, played := speech.Speak(tb, tb.TempDir(), s.Name, s.Text)
		ogg, err := os.ReadFile(speech.Encode(tb, wav, speech.OggOpus))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, voiceMessage{Sentence: s, ogg: ogg, played: played})
	}
	return out
}

// transcription is the endpoint's answer.
type transcription struct {
	Text       string `json:"text"`
	Engine     string `json:"engine"`
	Language   string `json:"language"`
	DurationMS int64  `json:"duration_ms"`
}

// transcribePath is the transcription endpoint of mxc.
func transcribePath(mxc id.ContentURI) string {
	return "/_matrix/client/unstable/im.myelin/media/transcribe/" + mxc.Homeserver + "/" + mxc.FileID
}

// transcribe asks srv for the transcription of mxc with token and returns
// the answer's status and body.
func transcribe(ctx context.Context, tb testing.TB, srv *server.Server, token string, mxc id.ContentURI) (int, transcription) {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.ClientURL()+transcribePath(mxc), nil)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tr transcription
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		tb.Fatalf("transcription of %s: %v", mxc, err)
	}
	return resp.StatusCode, tr
}

// metricSum is the sum of the series of the metric name srv exposes.
func metricSum(t *testing.T, srv *server.Server, name string) float64 {
	t.Helper()
	resp, err := http.Get(srv.MetricsURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var sum float64
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if series != name && !strings.HasPrefix(series, name+"{") || !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metric %s: %v", sc.Text(), err)
		}
		sum += v
	}
	return sum
}

// TestTranscription: on a real server with the default configuration (no
// engine named: pocketsphinx, installed), voice messages uploaded by a
// real client are transcribed for another user; asked again they are
// answered from the kept transcriptions (the engine's run counter stays);
// the feature is advertised; a request without a token is refused.
func TestTranscription(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	voices := voiceMessages(t)
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		cfg := testConfig(t, dbURL)
		cfg.Global.MetricsAddr = "127.0.0.1:0"
		srv := startServer(t, cfg)
		versions := do(t, http.MethodGet, srv.ClientURL()+"/_matrix/client/versions", "", nil)
		if features, _ := versions.Body["unstable_features"].(map[string]any); features["im.myelin.transcribe"] != true {
			speech.Skip(t, "im.myelin.transcribe is not advertised (%v): the pocketsphinx model is missing?", features)
		}
		alice := register(t, srv, "alice", "password-alice")
		bob := register(t, srv, "bob", "password-bob")
		first := map[id.ContentURI]transcription{}
		for _, v := range voices {
			up, err := alice.UploadBytesWithName(ctx(t), v.ogg, "audio/ogg", v.Name+".ogg")
			if err != nil {
				t.Fatal(err)
			}
			status, tr := transcribe(ctx(t), t, srv, bob.AccessToken, up.ContentURI)
			if status != http.StatusOK || tr.Engine != "pocketsphinx" || tr.Language != "en" {
				t.Fatalf("%s: %d %+v", v.Name, status, tr)
			}
			t.Logf("%-8s heard %q: WER %.2f", v.Name, tr.Text, speech.WordErrorRate(v.Text, tr.Text))
			for _, k := range v.Keys {
				if !slices.Contains(speech.Words(tr.Text), k) {
					t.Errorf("%q not heard in %q (said %q)", k, tr.Text, v.Text)
				}
			}
			first[up.ContentURI] = tr
		}
		assertAnsweredFromCache(t, srv, alice, first)
		if status, _ := transcribe(ctx(t), t, srv, "", id.ContentURI{Homeserver: cfg.Global.ServerName, FileID: "x"}); status != 401 {
			t.Errorf("without a token: %d, want 401", status)
		}
	})
}

// TestTranscriptionOff: without an engine (no engine named, pocketsphinx
// not where the configuration says) the server starts, advertises the
// feature as off, and answers 501 saying how to turn it on.
func TestTranscriptionOff(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.MediaAPI.Transcription.Pocketsphinx.Binary = "/nonexistent/pocketsphinx_continuous"
	srv := startServer(t, cfg)
	versions := do(t, http.MethodGet, srv.ClientURL()+"/_matrix/client/versions", "", nil)
	if features, _ := versions.Body["unstable_features"].(map[string]any); features["im.myelin.transcribe"] != false {
		t.Errorf("unstable_features %v, want im.myelin.transcribe false", features)
	}
	alice := register(t, srv, "alice", "password-alice")
	up, err := alice.UploadBytesWithName(ctx(t), []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00"), "audio/ogg", "voice.ogg")
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, http.MethodPost, srv.ClientURL()+transcribePath(up.ContentURI), alice.AccessToken, nil)
	if msg, _ := r.Body["error"].(string); r.Status != http.StatusNotImplemented || r.errcode() != "M_UNRECOGNIZED" ||
		!strings.Contains(msg, "install pocketsphinx and pocketsphinx-en-us") {
		t.Errorf("transcription without an engine: %d %v", r.Status, r.Body)
	}
}

// assertAnsweredFromCache asks again, as c, for the transcriptions first
// got, and checks that the same answers come from the kept transcriptions:
// the engine's run counter does not move.
func assertAnsweredFromCache(t *testing.T, srv *server.Server, c *mautrix.Client, first map[id.ContentURI]transcription) {
	t.Helper()
	runs := metricSum(t, srv, "myelin_media_transcription_runs_total")
	if runs != float64(len(first)) {
		t.Fatalf("%v engine runs for %d voice messages", runs, len(first))
	}
	for mxc, want := range first {
		if status, got := transcribe(ctx(t), t, srv, c.AccessToken, mxc); status != http.StatusOK || got != want {
			t.Errorf("asked again: %d %+v, want %+v", status, got, want)
		}
	}
	if got := metricSum(t, srv, "myelin_media_transcription_runs_total"); got != runs {
		t.Errorf("the engine ran %v more times for voice messages transcribed before", got-runs)
	}
	if hits := metricSum(t, srv, "myelin_media_transcription_cache_hits_total"); hits != float64(len(first)) {
		t.Errorf("%v answers from the kept transcriptions, want %d", hits, len(first))
	}
}
