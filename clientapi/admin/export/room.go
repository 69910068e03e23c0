package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	mediaapi "github.com/myelin-im/myelin/mediaapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// RoomFormat names the room export's format (manifest.json's "format").
const RoomFormat = "myelin-room-export/1"

// Names of a room export's files.
const (
	EventsFile     = "events.jsonl"
	RedactionsFile = "redactions.jsonl"
	MembershipFile = "membership.jsonl"
	StateFile      = "state.json"
	MediaFile      = "media.jsonl"
	RoomFile       = "room.json"
	TranscriptFile = "transcript.html"
)

// Rooms is what an export reads of the roomserver.
type Rooms interface {
	roomapi.Export
	CurrentState(ctx context.Context, roomID string) ([]roomapi.Event, error)
	Event(ctx context.Context, eventID string) (roomapi.Event, error)
}

// Options are what an export reads from and how.
type Options struct {
	Rooms Rooms
	// Media opens the files referenced; nil lists them all as missing.
	Media mediaapi.Exporter
	// PageSize is how many events are read at a time (default 500).
	PageSize int
	// Progress, when set, is told how far the export is (events handled
	// over all passes, and their total).
	Progress func(done, total int64)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Summary counts what a room export holds.
type Summary struct {
	RoomID            string `json:"room_id"`
	RoomVersion       string `json:"room_version"`
	ExportedTS        int64  `json:"exported_ts"`
	Format            string `json:"format"`
	Events            int64  `json:"events"`
	Messages          int64  `json:"messages"`
	Redacted          int64  `json:"redacted"`
	RedactedOriginals int64  `json:"redacted_originals"`
	MembershipChanges int64  `json:"membership_changes"`
	StateEvents       int64  `json:"current_state_events"`
	Media             int64  `json:"media"`
	MediaMissing      int64  `json:"media_missing"`
}

// roomExport is one room's export under way.
type roomExport struct {
	o      Options
	sink   *Sink
	info   roomapi.ExportRoom
	sum    Summary
	done   int64
	passes int64
	// edits maps an edited event to its latest edit (m.replace), found by
	// the scan; mediaList the content URIs referenced, in order.
	edits     map[string]string
	mediaList []mediaapi.MXC
	media     map[string]string // mxc -> path in the export ("" if missing)
	roomName  string
}

// Room exports the room into sink and finishes it (manifest.json):
// roomapi.ErrRoomNotFound, before anything is written, if unknown.
func Room(ctx context.Context, o Options, roomID string, sink *Sink) (Summary, error) {
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	info, err := o.Rooms.ExportRoomInfo(ctx, roomID)
	if err != nil {
		return Summary{}, err
	}
	x := &roomExport{o: o, sink: sink, info: info, passes: 3, edits: map[string]string{}, media: map[string]string{},
		sum: Summary{RoomID: roomID, RoomVersion: info.Version, ExportedTS: o.Now().UnixMilli(), Format: RoomFormat}}
	for _, step := range []func(context.Context) error{x.scan, x.writeLines, x.writeState, x.writeMedia, x.writeTranscript} {
		if err := step(ctx); err != nil {
			return x.sum, err
		}
	}
	if err := sink.WriteJSON(RoomFile, x.sum); err != nil {
		return x.sum, err
	}
	return x.sum, sink.Finish()
}

// each calls fn with every event of the room in DAG order, a page at a
// time, and reports progress.
func (x *roomExport) each(ctx context.Context, fn func(e *roomapi.ExportEvent) error) error {
	var pos roomapi.ExportPosition
	for {
		page, err := x.o.Rooms.ExportEvents(ctx, x.info.RoomID, pos, x.o.PageSize, "")
		if err != nil {
			return err
		}
		for i := range page {
			if err := fn(&page[i]); err != nil {
				return err
			}
		}
		x.done += int64(len(page))
		if x.o.Progress != nil {
			x.o.Progress(x.done, x.passes*max(x.info.Events, x.sum.Events))
		}
		if len(page) < x.o.PageSize {
			return nil
		}
		pos = page[len(page)-1].Position
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// scan finds the edits and the media referenced, and counts.
func (x *roomExport) scan(ctx context.Context) error {
	seen := map[string]bool{}
	return x.each(ctx, func(e *roomapi.ExportEvent) error {
		x.sum.Events++
		c := parseContent(e)
		if e.Rejected {
			return nil
		}
		if c.isEdit() && e.RedactedBy == "" {
			x.edits[c.RelatesTo.EventID] = e.ID
		}
		if isMessage(e, c) {
			x.sum.Messages++
		}
		for _, uri := range c.mxcs {
			if mxc, err := mediaapi.ParseMXC(uri); err == nil && !seen[mxc.String()] {
				seen[mxc.String()] = true
				x.mediaList = append(x.mediaList, mxc)
			}
		}
		return nil
	})
}

// closeAll closes files, keeping the first error.
func closeAll(err error, files ...io.Closer) error {
	for _, f := range files {
		if f != nil {
			err = errors.Join(err, f.Close())
		}
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
