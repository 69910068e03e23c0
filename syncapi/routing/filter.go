package routing

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Filter is the part of a spec filter the sync component applies.
type Filter struct {
	Room struct {
		Timeline struct {
			// Limit caps the timeline's events; unset: 20, 0: none (only
			// the state, as of the window's end).
			Limit *int `json:"limit"`
			// UnreadThreadNotifications splits unread counts per thread
			// (spec: "Receiving notifications", threads).
			UnreadThreadNotifications bool `json:"unread_thread_notifications"`
			// The RoomEventFilter's event selection (types, senders, …):
			// applied to the events read for the timeline, so a timeline
			// may show fewer than its limit.
			roomEventFilter
		} `json:"timeline"`
		State struct {
			LazyLoadMembers bool `json:"lazy_load_members"`
			// The StateFilter's event selection (types, senders, …).
			roomEventFilter
		} `json:"state"`
		// IncludeLeave puts rooms the user has left in the leave section of
		// initial and full-state syncs too.
		IncludeLeave bool `json:"include_leave"`
	} `json:"room"`
	Presence presenceFilter `json:"presence"`
}

const defaultTimelineLimit = 20

func (f *Filter) timelineLimit() int {
	if f.Room.Timeline.Limit == nil || *f.Room.Timeline.Limit < 0 {
		return defaultTimelineLimit
	}
	l := *f.Room.Timeline.Limit
	if l > 1000 {
		return 1000
	}
	return l
}

// POST /v3/user/{userId}/filter
func (rt *Routes) postFilter(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	if httputil.Vars(r)["userId"] != dev.UserID {
		return httputil.Forbidden("Cannot create filters for other users")
	}
	body, err := httputil.ReadBody(r)
	if err != nil {
		return err
	}
	var f Filter
	if err := httputil.DecodeJSONObject(body, &f); err != nil {
		return err
	}
	if err := validateFilter(body); err != nil {
		return err
	}
	id, err := rt.store.InsertFilter(r.Context(), dev.UserID, body)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"filter_id": strconv.FormatInt(id, 10)})
	return nil
}

// GET /v3/user/{userId}/filter/{filterId}
func (rt *Routes) getFilter(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	v := httputil.Vars(r)
	if v["userId"] != dev.UserID {
		return httputil.Forbidden("Cannot read filters of other users")
	}
	id, err := strconv.ParseInt(v["filterId"], 10, 64)
	if err != nil {
		return httputil.NotFound("No such filter")
	}
	js, err := rt.store.Filter(r.Context(), dev.UserID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return httputil.NotFound("No such filter")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(js)
	return nil
}

// loadFilter reads the filter query parameter: inline JSON or a filter ID.
func (rt *Routes) loadFilter(r *http.Request, dev *userapi.Device, param string) (*Filter, error) {
	var f Filter
	if param == "" {
		return &f, nil
	}
	raw := []byte(param)
	if !strings.HasPrefix(strings.TrimSpace(param), "{") {
		id, err := strconv.ParseInt(param, 10, 64)
		if err != nil {
			return nil, httputil.InvalidParam("Invalid filter ID")
		}
		if raw, err = rt.store.Filter(r.Context(), dev.UserID, id); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return nil, httputil.NotFound("No such filter")
			}
			return nil, err
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, httputil.BadJSON("Invalid filter: %v", err)
	}
	return &f, nil
}

// filterSpec is the whole filter definition of the spec (client-server
// API, "Filtering"), read only to check a new filter: fields of the wrong
// JSON type, room IDs and user IDs that are not such are refused (400
// M_BAD_JSON / M_INVALID_PARAM) rather than stored and ignored.
type filterSpec struct {
	EventFields []string         `json:"event_fields"`
	EventFormat string           `json:"event_format"`
	Presence    *eventFilterSpec `json:"presence"`
	AccountData *eventFilterSpec `json:"account_data"`
	Room        *struct {
		Rooms        []string             `json:"rooms"`
		NotRooms     []string             `json:"not_rooms"`
		IncludeLeave bool                 `json:"include_leave"`
		Ephemeral    *roomEventFilterSpec `json:"ephemeral"`
		State        *roomEventFilterSpec `json:"state"`
		Timeline     *roomEventFilterSpec `json:"timeline"`
		AccountData  *roomEventFilterSpec `json:"account_data"`
	} `json:"room"`
}

type eventFilterSpec struct {
	Limit      *int     `json:"limit"`
	Types      []string `json:"types"`
	NotTypes   []string `json:"not_types"`
	Senders    []string `json:"senders"`
	NotSenders []string `json:"not_senders"`
}

type roomEventFilterSpec struct {
	eventFilterSpec
	Rooms                     []string `json:"rooms"`
	NotRooms                  []string `json:"not_rooms"`
	ContainsURL               *bool    `json:"contains_url"`
	LazyLoadMembers           bool     `json:"lazy_load_members"`
	IncludeRedundantMembers   bool     `json:"include_redundant_members"`
	UnreadThreadNotifications bool     `json:"unread_thread_notifications"`
}

func validateFilter(body []byte) error {
	var f filterSpec
	if err := json.Unmarshal(body, &f); err != nil {
		return httputil.BadJSON("Invalid filter: %v", err)
	}
	if f.EventFormat != "" && f.EventFormat != "client" && f.EventFormat != "federation" {
		return httputil.InvalidParam("event_format must be client or federation")
	}
	events := []*eventFilterSpec{f.Presence, f.AccountData}
	var rooms [][]string
	if f.Room != nil {
		rooms = append(rooms, f.Room.Rooms, f.Room.NotRooms)
		for _, r := range []*roomEventFilterSpec{f.Room.Ephemeral, f.Room.State, f.Room.Timeline, f.Room.AccountData} {
			if r != nil {
				events = append(events, &r.eventFilterSpec)
				rooms = append(rooms, r.Rooms, r.NotRooms)
			}
		}
	}
	for _, list := range rooms {
		for _, id := range list {
			if err := mxid.ValidateRoomID(id); err != nil {
				return httputil.InvalidParam("Filter holds an %s", err)
			}
		}
	}
	for _, e := range events {
		if e == nil {
			continue
		}
		if e.Limit != nil && *e.Limit < 0 {
			return httputil.InvalidParam("A filter's limit must not be negative")
		}
		for _, list := range [][]string{e.Senders, e.NotSenders} {
			for _, id := range list {
				if err := mxid.ValidateUserID(id); err != nil {
					return httputil.InvalidParam("Filter holds an %s", err)
				}
			}
		}
	}
	return nil
}
