package admin

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/myelin-im/myelin/clientapi/admin/export"
	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// setupExport registers the room export (a Myelin extension,
// docs/api-extensions.md "Room export"): a read that is recorded in the
// audit log, since it hands out everything said in a room.
func (a *Admin) setupExport(p prefixed) {
	p.Handle("/v1/rooms/{roomId}/export", a.adminAudited(a.exportRoom)).Methods(http.MethodGet)
}

// exportRooms is the roomserver as an export reads it.
type exportRooms struct {
	roomapi.Roomserver
	roomapi.Export
}

// exportRoom streams a room's export as a zip archive. Errors before the
// first byte are Matrix errors; one after it (the database failing
// mid-way) leaves the archive without its end, which zip readers refuse,
// and is noted in the audit entry.
func (a *Admin) exportRoom(w http.ResponseWriter, r *http.Request, c *Caller) error {
	roomID := httputil.Vars(r)["roomId"]
	if !strings.HasPrefix(roomID, "!") {
		return httputil.InvalidParam("roomId must be a room ID (!...)")
	}
	if a.d.RoomExport == nil {
		return httputil.Unrecognized("Room export is not available in this process")
	}
	info, err := a.d.RoomExport.ExportRoomInfo(r.Context(), roomID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.zip"`, exportFileName(roomID)))
	w.WriteHeader(http.StatusOK)
	o := export.Options{Rooms: exportRooms{a.d.Rooms, a.d.RoomExport}, Media: a.d.MediaExport}
	sum, err := export.Room(r.Context(), o, roomID, export.NewZipSink(w, export.RoomFormat))
	if err != nil {
		httputil.Logger(r.Context()).WithError(err).Warn("admin: room export failed mid-way")
		c.Note(fmt.Sprintf("export of %d events failed mid-way: %v", info.Events, err))
		return nil
	}
	c.Note(fmt.Sprintf("exported %d events, %d messages, %d media files", sum.Events, sum.Messages, sum.Media))
	return nil
}

// exportFileName makes a room ID a file name: room-export-<id>, with
// characters other than letters, digits, '.', '-' and '_' as '_'.
func exportFileName(roomID string) string {
	return "room-export-" + strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, roomID)
}
