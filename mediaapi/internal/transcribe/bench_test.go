//go:build unix

package transcribe

import (
	"context"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/speech"
)

// BenchmarkPocketsphinx transcribes the three test sentences (an operation
// is all three) as WAV and as Ogg/Opus, conversion included, and reports
// the seconds of work per second of audio: wall-clock (s/audio-s; below 1
// is faster than real time) and the CPU time of ffmpeg and pocketsphinx
// (cpu-s/audio-s, what a loaded machine does not distort). Each
// transcription starts pocketsphinx, which loads its model anew.
func BenchmarkPocketsphinx(b *testing.B) {
	requirePocketsphinx(b)
	eng, err := New(Config{Engine: EnginePocketsphinx})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for _, f := range speech.Formats {
		var audio []Audio
		var played time.Duration
		for _, s := range speech.Sentences {
			wav, d := speech.Speak(b, dir, s.Name, s.Text)
			audio = append(audio, Audio{Path: speech.Encode(b, wav, f), ContentType: f.ContentType})
			played += d
		}
		b.Run(f.Name, func(b *testing.B) {
			cpu := speech.ChildrenCPU(b)
			for b.Loop() {
				for _, a := range audio {
					if _, err := eng.Transcribe(context.Background(), a); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/played.Seconds(), "s/audio-s")
			b.ReportMetric((speech.ChildrenCPU(b)-cpu).Seconds()/float64(b.N)/played.Seconds(), "cpu-s/audio-s")
			b.ReportMetric(played.Seconds(), "audio-s/op")
		})
	}
}
