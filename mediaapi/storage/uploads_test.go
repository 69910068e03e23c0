package storage_test

import (
	"context"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/api"
)

func TestUploadsOf(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		for i, m := range []*api.Metadata{media("late", alice, "aa", 1), media("early", alice, "bb", 2),
			media("bobs", bob, "cc", 3)} {
			if m.MediaID == "early" {
				m.CreatedTS = 500
			}
			if err := s.InsertMedia(ctx, m, 0); err != nil {
				t.Fatalf("%d: %v", i, err)
			}
		}
		got, err := s.UploadsOf(ctx, alice)
		if err != nil || len(got) != 2 || got[0].MediaID != "early" || got[1].MediaID != "late" || got[1].Uploader != alice {
			t.Fatalf("UploadsOf(alice) = %+v, %v", got, err)
		}
		if got, err := s.UploadsOf(ctx, "@nobody:test.local"); err != nil || len(got) != 0 {
			t.Fatalf("UploadsOf(nobody) = %+v, %v", got, err)
		}
	})
}
