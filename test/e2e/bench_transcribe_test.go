//go:build unix

package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/test/speech"
)

// BenchmarkTranscribe: the three test sentences as Ogg/Opus voice messages
// transcribed through the endpoint of a real server (SQLite, pocketsphinx,
// the client in the same process): an operation is the three, each newly
// uploaded so that none is answered from the kept transcriptions (uploads
// are not timed). Reported: seconds per operation, and per second of audio
// in wall-clock time and in CPU time of ffmpeg and pocketsphinx.
//
//	go test -run '^$' -bench Transcribe -benchtime 5x ./test/e2e/
func BenchmarkTranscribe(b *testing.B) {
	voices := voiceMessages(b)
	srv, token := mediaBenchServer(b, 1<<20)
	c, err := mautrix.NewClient(srv.ClientURL(), "", token)
	if err != nil {
		b.Fatal(err)
	}
	var played time.Duration
	for _, v := range voices {
		played += v.played
	}
	cpu := speech.ChildrenCPU(b)
	for b.Loop() {
		b.StopTimer()
		var uploaded []id.ContentURI
		for _, v := range voices {
			up, err := c.UploadBytesWithName(b.Context(), v.ogg, "audio/ogg", v.Name+".ogg")
			if err != nil {
				b.Fatal(err)
			}
			uploaded = append(uploaded, up.ContentURI)
		}
		b.StartTimer()
		for _, mxc := range uploaded {
			if status, tr := transcribe(b.Context(), b, srv, token, mxc); status != http.StatusOK {
				b.Fatal(fmt.Sprint(status, tr))
			}
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/played.Seconds(), "s/audio-s")
	b.ReportMetric((speech.ChildrenCPU(b)-cpu).Seconds()/float64(b.N)/played.Seconds(), "cpu-s/audio-s")
	b.ReportMetric(played.Seconds(), "audio-s/op")
}
