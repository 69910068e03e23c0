package federationapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// GET /_matrix/federation/v1/timestamp_to_event/{roomId}?ts=…&dir=f|b
//
// Spec: server-server API, "Timestamp to event": the room's event nearest
// ts in the direction asked, for a server in the room; 404 M_NOT_FOUND when
// there is none.
func (f *FederationAPI) timestampToEvent(w http.ResponseWriter, r *http.Request, origin spec.ServerName, _ []byte) error {
	roomID := httputil.Vars(r)["roomId"]
	q := r.URL.Query()
	ts, err := strconv.ParseInt(q.Get("ts"), 10, 64)
	if q.Get("ts") == "" {
		return httputil.MissingParam("ts is required")
	}
	if err != nil || ts < 0 {
		return httputil.InvalidParam("ts must be a non-negative integer (milliseconds since the Unix epoch)")
	}
	dir := q.Get("dir")
	if dir != "f" && dir != "b" {
		return httputil.InvalidParam("dir must be f or b")
	}
	if err := f.mayRead(r, origin, roomID); err != nil {
		return err
	}
	id, at, err := f.opts.Rooms.EventNearTS(r.Context(), roomID, ts, dir == "f")
	if errors.Is(err, roomapi.ErrEventNotFound) {
		return httputil.NotFound("no event found from %d in direction %s", ts, dir)
	}
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"event_id": id, "origin_server_ts": at})
	return nil
}

// TimestampToEvent implements fedapi.Backfiller: it asks the room's other
// servers, the creator's first, for the event nearest ts (spec: GET
// /_matrix/federation/v1/timestamp_to_event) and returns the first answer.
// No server with an answer gives the last server's error (ErrNoServers
// when there was none to ask).
func (f *FederationAPI) TimestampToEvent(ctx context.Context, roomID string, ts int64, forward bool) (fedapi.EventAt, error) {
	if f.opts.Rooms == nil {
		return fedapi.EventAt{}, fedapi.ErrNoServers
	}
	servers, err := f.opts.Rooms.JoinedServers(ctx, roomID)
	if err != nil {
		return fedapi.EventAt{}, err
	}
	dir := "b"
	if forward {
		dir = "f"
	}
	path := "/_matrix/federation/v1/timestamp_to_event/" + url.PathEscape(roomID) + "?" +
		url.Values{"ts": {strconv.FormatInt(ts, 10)}, "dir": {dir}}.Encode()
	lastErr := fedapi.ErrNoServers
	for _, s := range backfillServers(servers, string(f.name), f.creatorServer(ctx, roomID)) {
		var out fedapi.EventAt
		err := f.ask(ctx, http.MethodGet, spec.ServerName(s), path, nil, &out)
		if err == nil && out.EventID == "" {
			err = errors.New("an answer without event_id")
		}
		if err != nil {
			lastErr = err
			continue
		}
		return out, nil
	}
	return fedapi.EventAt{}, lastErr
}
