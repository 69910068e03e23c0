package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

func thumb(origin string, w, h int, method api.ThumbnailMethod, animated bool, sha string) *storage.Thumbnail {
	return &storage.Thumbnail{
		ThumbnailKey: storage.ThumbnailKey{
			Origin:  origin,
			MediaID: "pic",
			Spec:    api.ThumbnailSpec{Width: w, Height: h, Method: method, Animated: animated},
		},
		ContentType: "image/png",
		Size:        42,
		SHA256:      sha,
		CreatedTS:   7,
	}
}

// TestThumbnailRows: a thumbnail per key (the box, the method, animated,
// the origin), the first one kept, and files named by thumbnails count as
// referenced.
func TestThumbnailRows(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		rows := []*storage.Thumbnail{
			thumb(origin, 32, 32, api.ThumbnailCrop, false, "t1"),
			thumb(origin, 32, 32, api.ThumbnailScale, false, "t2"),
			thumb(origin, 32, 32, api.ThumbnailCrop, true, "t3"),
			thumb(origin, 32, 24, api.ThumbnailCrop, false, "t4"),
			thumb("other.example", 32, 32, api.ThumbnailCrop, false, "t5"),
		}
		for _, r := range rows {
			if err := s.InsertThumbnail(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		again := thumb(origin, 32, 32, api.ThumbnailCrop, false, "other")
		if err := s.InsertThumbnail(ctx, again); !errors.Is(err, storage.ErrThumbnailExists) {
			t.Fatalf("a second thumbnail for the same key: %v", err)
		}
		for _, r := range rows {
			got, err := s.Thumbnail(ctx, r.ThumbnailKey)
			if err != nil || *got != *r {
				t.Fatalf("Thumbnail(%+v) = %+v, %v", r.ThumbnailKey, got, err)
			}
		}
		missing := thumb(origin, 96, 96, api.ThumbnailCrop, false, "").ThumbnailKey
		if _, err := s.Thumbnail(ctx, missing); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("a thumbnail never stored: %v", err)
		}
		list, err := s.Thumbnails(ctx, origin, "pic")
		if err != nil || len(list) != 4 {
			t.Fatalf("Thumbnails = %d rows, %v; want 4", len(list), err)
		}
		for sha, want := range map[string]bool{"t1": true, "t5": true, "other": false} {
			if ref, err := s.FileReferenced(ctx, sha); err != nil || ref != want {
				t.Fatalf("FileReferenced(%s) = %v, %v; want %v", sha, ref, err, want)
			}
		}
	})
}
