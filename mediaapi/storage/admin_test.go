package storage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

func ids(ms []api.AdminMedia) []api.MediaID {
	out := make([]api.MediaID, len(ms))
	for i, m := range ms {
		out[i] = m.MediaID
	}
	return out
}

// TestMediaAdmin: a user's uploads page in the asked order with the
// admins' decisions; quarantine and protection are recorded and undone;
// old media leaves protected media out; deleting removes the media and its
// thumbnails and names their files.
func TestMediaAdmin(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		for i, m := range []*api.Metadata{
			media("aaa", "@u:x", sha(1), 30), media("bbb", "@u:x", sha(2), 10), media("ccc", "@v:x", sha(1), 20),
		} {
			m.CreatedTS = int64(1000 * (i + 1))
			if err := s.InsertMedia(ctx, m, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.InsertThumbnail(ctx, &storage.Thumbnail{ThumbnailKey: storage.ThumbnailKey{Origin: origin, MediaID: "aaa",
			Spec: api.ThumbnailSpec{Width: 32, Height: 32, Method: api.ThumbnailCrop}}, ContentType: "image/png", Size: 5,
			SHA256: sha(3), CreatedTS: 1}); err != nil {
			t.Fatal(err)
		}
		if changed, err := s.SetQuarantined(ctx, origin, "bbb", "@admin:x", 5); err != nil || !changed {
			t.Fatalf("quarantine = %v, %v", changed, err)
		}
		if changed, err := s.SetQuarantined(ctx, origin, "bbb", "@admin:x", 6); err != nil || changed {
			t.Fatalf("quarantine again = %v, %v; want no change", changed, err)
		}
		if err := s.SetProtected(ctx, "aaa", true); err != nil {
			t.Fatal(err)
		}
		page, total, err := s.UserMedia(ctx, api.UserMediaQuery{UserID: "@u:x", OrderBy: "media_length"})
		if err != nil || total != 2 || !slices.Equal(ids(page), []api.MediaID{"bbb", "aaa"}) {
			t.Fatalf("by size = %v of %d, %v", ids(page), total, err)
		}
		if page[0].QuarantinedBy != "@admin:x" || page[0].Protected || page[1].QuarantinedBy != "" || !page[1].Protected {
			t.Fatalf("decisions not listed: %+v", page)
		}
		page, _, err = s.UserMedia(ctx, api.UserMediaQuery{UserID: "@u:x", Backwards: true, Limit: 1, Offset: 1})
		if err != nil || !slices.Equal(ids(page), []api.MediaID{"aaa"}) {
			t.Fatalf("second page newest first = %v, %v", ids(page), err)
		}
		if _, _, err := s.UserMedia(ctx, api.UserMediaQuery{UserID: "@u:x", OrderBy: "x; DROP TABLE"}); err == nil {
			t.Fatal("an unknown order was accepted")
		}
		if q, err := s.Quarantined(ctx, origin, "bbb"); err != nil || !q {
			t.Fatalf("quarantined = %v, %v", q, err)
		}
		if _, err := s.SetQuarantined(ctx, origin, "bbb", "", 0); err != nil {
			t.Fatal(err)
		}
		if q, err := s.Quarantined(ctx, origin, "bbb"); err != nil || q {
			t.Fatalf("released = %v, %v", q, err)
		}
		old, err := s.OldMedia(ctx, origin, 2500, 5)
		if err != nil || !slices.Equal(ids(old), []api.MediaID{"bbb"}) {
			t.Fatalf("old media = %v, %v; the protected aaa must stay", ids(old), err)
		}
		sums, found, err := s.DeleteMedia(ctx, origin, "aaa")
		if err != nil || !found || !slices.Equal(sums, []string{sha(1), sha(3)}) {
			t.Fatalf("delete = %v, %v, %v", sums, found, err)
		}
		if _, err := s.Media(ctx, origin, "aaa"); err == nil {
			t.Fatal("deleted media still found")
		}
		if th, err := s.Thumbnails(ctx, origin, "aaa"); err != nil || len(th) != 0 {
			t.Fatalf("thumbnails of deleted media = %v, %v", th, err)
		}
		if ref, err := s.FileReferenced(ctx, sha(1)); err != nil || !ref {
			t.Fatalf("ccc's file (same bytes) referenced = %v, %v", ref, err)
		}
		if _, found, err := s.DeleteMedia(ctx, origin, "aaa"); err != nil || found {
			t.Fatalf("delete again: found %v, %v", found, err)
		}
	})
}

// sha is a made-up hex SHA-256 for n.
func sha(n int) string {
	return fmt.Sprintf("%064x", n)
}
