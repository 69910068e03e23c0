package internal

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/test/fixture"
)

// BenchmarkUploadThumbnails measures, through the component, what an
// uploaded photograph's thumbnails cost once the upload is acknowledged:
// its pre-generation job (decode once, the five default sizes encoded,
// each file fsynced and recorded in SQLite), timed from Upload's return
// to the job's end, in wall time and in the process's CPU time (which
// other load on the machine does not inflate). Each iteration uploads the
// same bytes under a new media ID, so the original is stored once and
// every iteration makes all five thumbnails again.
//
//	go test -run '^$' -bench UploadThumbnails -benchtime 10x ./mediaapi/internal/
func BenchmarkUploadThumbnails(b *testing.B) {
	for _, img := range []struct {
		name    string
		content []byte
	}{
		{"jpeg-4000x3000", fixture.EncodeJPEG(b, fixture.Photo(4000, 3000))},
		{"png-2310x1732", fixture.EncodePNG(b, fixture.Photo(2310, 1732))},
	} {
		b.Run(img.name, func(b *testing.B) {
			e := newEnv(b, sqltest.Open(b, sqlutil.SQLite), bigUploads)
			var uploading, thumbnailing, cpu time.Duration
			for b.Loop() {
				start := time.Now()
				md, err := e.Upload(context.Background(), Upload{Uploader: alice, Body: bytes.NewReader(img.content), ContentLength: -1})
				if err != nil {
					b.Fatal(err)
				}
				acknowledged, cpuBefore := time.Now(), cpuTime(b)
				e.thumbs.tasks.wg.Wait()
				uploading += acknowledged.Sub(start)
				thumbnailing += time.Since(acknowledged)
				cpu += cpuTime(b) - cpuBefore
				if n := e.thumbnailRows(b, server, md.MediaID); n != 5 {
					b.Fatalf("%d thumbnails, want 5", n)
				}
			}
			b.ReportMetric(float64(uploading.Milliseconds())/float64(b.N), "upload-ms/op")
			b.ReportMetric(float64(thumbnailing.Milliseconds())/float64(b.N), "thumbnails-ms/op")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "thumbnails-cpu-ms/op")
			b.ReportMetric(float64(len(img.content))/1e6, "MB")
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
