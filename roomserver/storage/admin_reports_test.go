package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

// TestReportsAdmin: admins filter reports by kind and by text contained in
// the room, reporter and target (LIKE's wildcards taken literally), read
// one, resolve and delete it; an unknown ID is ErrReportNotFound.
func TestReportsAdmin(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		var ids []int64
		for i, r := range []api.NewReport{
			{Kind: api.ReportEvent, Reporter: "@al_ice:x", RoomID: "!room:x", EventID: "$e", TargetUserID: "@spam:x"},
			{Kind: api.ReportEvent, Reporter: "@bob:x", RoomID: "!other:x", EventID: "$f", TargetUserID: "@eggs:x"},
			{Kind: api.ReportUser, Reporter: "@al_ice:x", TargetUserID: "@spam:x"},
		} {
			id, err := s.InsertReport(ctx, r, int64(i))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		for _, tc := range []struct {
			name string
			q    api.ReportsQuery
			want []int64
		}{
			{"events", api.ReportsQuery{Kind: api.ReportEvent, OldestFirst: true}, ids[:2]},
			{"room contains", api.ReportsQuery{RoomIDContains: "oth"}, ids[1:2]},
			{"reporter contains", api.ReportsQuery{ReporterContains: "l_i"}, []int64{ids[2], ids[0]}},
			{"underscore is literal", api.ReportsQuery{ReporterContains: "b_b"}, nil},
			{"percent is literal", api.ReportsQuery{ReporterContains: "%"}, nil},
			{"target contains", api.ReportsQuery{TargetContains: "spam", Kind: api.ReportEvent}, ids[:1]},
		} {
			got, total, err := s.ListReports(ctx, tc.q)
			if err != nil || total != len(tc.want) || len(got) != len(tc.want) {
				t.Fatalf("%s: %+v of %d, %v; want %v", tc.name, got, total, err, tc.want)
			}
			for i := range got {
				if got[i].ID != tc.want[i] {
					t.Fatalf("%s: %+v; want %v", tc.name, got, tc.want)
				}
			}
		}
		if err := s.ResolveReport(ctx, ids[0], true); err != nil {
			t.Fatal(err)
		}
		r, err := s.GetReport(ctx, ids[0])
		if err != nil || !r.Resolved || r.EventID != "$e" || r.Reporter != "@al_ice:x" {
			t.Fatalf("resolved report = %+v, %v", r, err)
		}
		if err := s.DeleteReport(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"get deleted":     func() error { _, err := s.GetReport(ctx, ids[0]); return err }(),
			"delete again":    s.DeleteReport(ctx, ids[0]),
			"resolve unknown": s.ResolveReport(ctx, 999, true),
		} {
			if !errors.Is(err, api.ErrReportNotFound) {
				t.Fatalf("%s: %v, want ErrReportNotFound", name, err)
			}
		}
	})
}
