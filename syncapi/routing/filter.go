package routing

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Filter is the part of a spec filter the sync component applies.
type Filter struct {
	Room struct {
		Timeline struct {
			Limit int `json:"limit"`
		} `json:"timeline"`
		State struct {
			LazyLoadMembers bool `json:"lazy_load_members"`
		} `json:"state"`
	} `json:"room"`
}

const defaultTimelineLimit = 20

func (f *Filter) timelineLimit() int {
	l := f.Room.Timeline.Limit
	if l <= 0 {
		return defaultTimelineLimit
	}
	if l > 1000 {
		return 1000
	}
	return l
}

// POST /v3/user/{userId}/filter
func (rt *Routes) postFilter(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	if vars(r)["userId"] != dev.UserID {
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
	id, err := rt.store.InsertFilter(r.Context(), dev.UserID, body)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"filter_id": strconv.FormatInt(id, 10)})
	return nil
}

// GET /v3/user/{userId}/filter/{filterId}
func (rt *Routes) getFilter(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	v := vars(r)
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
