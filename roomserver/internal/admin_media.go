package internal

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/myelin-im/myelin/roomserver/api"
)

var _ api.MediaAdmin = (*Roomserver)(nil)

// mediaContent is where events refer to media (spec: m.room.message's
// msgtypes, "Sending encrypted attachments").
type mediaContent struct {
	URL  string `json:"url"`
	File struct {
		URL string `json:"url"`
	} `json:"file"`
	Info struct {
		ThumbnailURL  string `json:"thumbnail_url"`
		ThumbnailFile struct {
			URL string `json:"url"`
		} `json:"thumbnail_file"`
	} `json:"info"`
}

// RoomMediaURIs implements api.MediaAdmin.
func (rs *Roomserver) RoomMediaURIs(ctx context.Context, roomID string) ([]string, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	err = rs.store.EventsWithMedia(ctx, r.nid, func(js []byte) error {
		var ev struct {
			Content mediaContent `json:"content"`
		}
		if json.Unmarshal(js, &ev) != nil {
			return nil // content of another shape refers to no media
		}
		c := ev.Content
		for _, u := range []string{c.URL, c.File.URL, c.Info.ThumbnailURL, c.Info.ThumbnailFile.URL} {
			if strings.HasPrefix(u, "mxc://") && !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
		return nil
	})
	return out, err
}
