package export_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/clientapi/admin/export"
	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/signingkey"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// BenchmarkRoomExport exports a room of MYELIN_BENCH_EXPORT_EVENTS events
// (default 100,000; SQLite) to a directory and as the admin endpoint's zip
// stream, and reports events/s, MB/s and the heap in use before, at its
// peak during, and after the export: memory stays flat when the peak does
// not grow with the room. The room is made by the roomserver, its bulk
// (messages, one in ten a reply, one in twenty an edit, Chinese text) is
// written straight into its storage, which is what the export reads.
func BenchmarkRoomExport(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("MYELIN_BENCH_EXPORT_EVENTS")); err == nil && v > 0 {
		n = v
	}
	rooms, roomID := benchRoom(b, sqltest.Open(b, sqlutil.SQLite), n)
	for _, kind := range []string{"dir", "zip"} {
		b.Run(fmt.Sprintf("%s/events=%d", kind, n), func(b *testing.B) {
			for b.Loop() {
				var sink *export.Sink
				var out *countingWriter
				if kind == "dir" {
					var err error
					if sink, err = export.NewDirSink(b.TempDir(), export.RoomFormat); err != nil {
						b.Fatal(err)
					}
				} else {
					out = &countingWriter{}
					sink = export.NewZipSink(out, export.RoomFormat)
				}
				measureExport(b, rooms, roomID, sink, out)
			}
		})
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)

// measureExport runs one export, sampling the heap every 5 ms.
func measureExport(b *testing.B, rooms export.Rooms, roomID string, sink *export.Sink, out *countingWriter) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	var peak atomic.Uint64
	peak.Store(before)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var s runtime.MemStats
				runtime.ReadMemStats(&s)
				if s.HeapInuse > peak.Load() {
					peak.Store(s.HeapInuse)
				}
			}
		}
	})
	start := time.Now()
	var bytes int64
	sum, err := export.Room(context.Background(), export.Options{Rooms: rooms, PageSize: 500}, roomID, sink)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	bytes = sink.Bytes()
	if out != nil {
		b.ReportMetric(float64(out.n)/1e6, "zip-MB")
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(sum.Events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(bytes)/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(float64(bytes)/1e6, "files-MB")
	b.ReportMetric(float64(before)/(1<<20), "heap-before-MiB")
	b.ReportMetric(float64(peak.Load())/(1<<20), "heap-peak-MiB")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-after-MiB")
}

// benchRoom makes a room through the roomserver, then stores n message
// events in it straight into the roomserver's storage, 1,000 a
// transaction.
func benchRoom(b *testing.B, db *sqlutil.DB, n int) (export.Rooms, string) {
	b.Helper()
	ctx := context.Background()
	log := logrus.New()
	log.SetOutput(io.Discard)
	bs, err := bus.NewDurable(ctx, db, bus.Options{}, log, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bs.Close() })
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	rs, err := roomserver.New(ctx, "bench.local", &signingkey.Key{ID: "ed25519:bench", Private: priv}, db, bs, log, nil)
	if err != nil {
		b.Fatal(err)
	}
	roomID, err := rs.CreateRoom(ctx, roomapi.CreateRoomRequest{Creator: "@alice:bench.local", Preset: "public_chat"})
	if err != nil {
		b.Fatal(err)
	}
	store, err := storage.New(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	room, err := store.Room(ctx, roomID)
	if err != nil {
		b.Fatal(err)
	}
	for start := 0; start < n; start += 1000 {
		err := store.WithTx(ctx, func(ctx context.Context) error {
			for i := start; i < min(start+1000, n); i++ {
				if _, _, err := store.InsertEvent(ctx, benchEvent(room, roomID, i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return rs, roomID
}

func benchEvent(room *storage.Room, roomID string, i int) *storage.Event {
	id := fmt.Sprintf("$bench%07d", i)
	body := fmt.Sprintf(`{"msgtype":"m.text","body":"第%d条消息：今天的会议讨论了季度报告 message %d"}`, i, i)
	switch {
	case i%20 == 19:
		body = fmt.Sprintf(`{"msgtype":"m.text","body":"* edited %d","m.new_content":{"msgtype":"m.text","body":"编辑 %d"},`+
			`"m.relates_to":{"rel_type":"m.replace","event_id":"$bench%07d"}}`, i, i, i-1)
	case i%10 == 9:
		body = fmt.Sprintf(`{"msgtype":"m.text","body":"回复 %d","m.relates_to":{"m.in_reply_to":{"event_id":"$bench%07d"}}}`, i, i-3)
	}
	ts := int64(1_765_000_000_000 + i*1000)
	js := fmt.Sprintf(`{"auth_events":["$a","$b","$c"],"content":%s,"depth":%d,"hashes":{"sha256":"x"},`+
		`"origin_server_ts":%d,"prev_events":["$bench%07d"],"room_id":"%s","sender":"@alice:bench.local",`+
		`"signatures":{"bench.local":{"ed25519:bench":"sig"}},"type":"m.room.message"}`, body, room.Depth+int64(i)+1, ts, i-1, roomID)
	return &storage.Event{ID: id, RoomNID: room.NID, Type: "m.room.message", Sender: "@alice:bench.local",
		Depth: room.Depth + int64(i) + 1, OriginServerTS: ts, SnapshotBefore: room.SnapshotNID, JSON: []byte(js)}
}
