package storage_test

import (
	"context"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

// TestReports: reports come back as stored, newest first unless asked,
// filtered by room and reporter, paged with a total.
func TestReports(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		score := int64(-100)
		reports := []api.NewReport{
			{Kind: api.ReportEvent, Reporter: "@a:x", RoomID: "!r:x", EventID: "$e", TargetUserID: "@spam:x", Reason: "spam",
				Score: &score},
			{Kind: api.ReportRoom, Reporter: "@b:x", RoomID: "!r:x", Reason: ""},
			{Kind: api.ReportUser, Reporter: "@a:x", TargetUserID: "@spam:x", Reason: "悪い"},
		}
		var ids []int64
		for i, r := range reports {
			id, err := s.InsertReport(ctx, r, int64(1000+i))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		got, total, err := s.ListReports(ctx, api.ReportsQuery{OldestFirst: true})
		if err != nil || total != 3 || len(got) != 3 {
			t.Fatalf("all: %d of %d, %v", len(got), total, err)
		}
		for i, r := range reports {
			g := got[i]
			if g.ID != ids[i] || g.ReceivedTS != int64(1000+i) || g.Kind != r.Kind || g.Reporter != r.Reporter || g.RoomID != r.RoomID ||
				g.EventID != r.EventID || g.TargetUserID != r.TargetUserID || g.Reason != r.Reason || g.Resolved ||
				(g.Score == nil) != (r.Score == nil) || g.Score != nil && *g.Score != *r.Score {
				t.Fatalf("report %d = %+v; stored %+v", i, g, r)
			}
		}
		tests := []struct {
			name  string
			q     api.ReportsQuery
			want  []int64
			total int
		}{
			{"newest first", api.ReportsQuery{}, []int64{ids[2], ids[1], ids[0]}, 3},
			{"a page", api.ReportsQuery{Limit: 1, Offset: 1}, []int64{ids[1]}, 3},
			{"past the end", api.ReportsQuery{Offset: 5}, nil, 3},
			{"by room", api.ReportsQuery{RoomID: "!r:x", OldestFirst: true}, []int64{ids[0], ids[1]}, 2},
			{"by reporter", api.ReportsQuery{Reporter: "@a:x"}, []int64{ids[2], ids[0]}, 2},
			{"by both", api.ReportsQuery{Reporter: "@a:x", RoomID: "!r:x"}, []int64{ids[0]}, 1},
			{"none", api.ReportsQuery{Reporter: "@nobody:x"}, nil, 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.ListReports(ctx, tc.q)
				if err != nil || total != tc.total || len(got) != len(tc.want) {
					t.Fatalf("%+v: %d of %d, %v", got, len(got), total, err)
				}
				for i, id := range tc.want {
					if got[i].ID != id {
						t.Fatalf("report %d is %d, want %d", i, got[i].ID, id)
					}
				}
			})
		}
	})
}
