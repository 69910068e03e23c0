package storage_test

import (
	"context"
	"testing"

	"github.com/myelin-im/myelin/clientapi/admin/storage"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

func TestAuditLog(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := storage.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := storage.New(ctx, db); err != nil {
			t.Fatalf("migrating twice: %v", err)
		}
		var ids []int64
		for i, target := range []string{"@a:x", "!r:x", "@a:x"} {
			admin := "@admin:x"
			if i == 1 {
				admin = "@other:x"
			}
			id, err := s.Begin(ctx, storage.AuditEntry{
				TS: int64(100 + i), AdminUserID: admin, Method: "POST", Path: "/p", Target: target, Detail: "begun",
			})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if err := s.Finish(ctx, ids[0], 200, "device D"); err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(ctx, ids[1], 404, ""); err != nil {
			t.Fatal(err)
		}
		all, err := s.Audit(ctx, storage.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 || all[0].ID != ids[2] || all[2].ID != ids[0] {
			t.Fatalf("not newest first: %+v", all)
		}
		if all[2].Status != 200 || all[2].Detail != "device D" || all[1].Status != 404 || all[1].Detail != "begun" || all[0].Status != 0 {
			t.Fatalf("finish not recorded as it should be: %+v", all)
		}
		page, err := s.Audit(ctx, storage.AuditQuery{Before: ids[2], Limit: 1})
		if err != nil || len(page) != 1 || page[0].ID != ids[1] {
			t.Fatalf("second page = %+v, %v", page, err)
		}
		byTarget, err := s.Audit(ctx, storage.AuditQuery{Target: "@a:x", AdminUserID: "@admin:x"})
		if err != nil || len(byTarget) != 2 {
			t.Fatalf("by target = %+v, %v", byTarget, err)
		}
	})
}

func TestServerNotices(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := storage.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if room, err := s.NoticeRoom(ctx, "@a:x"); err != nil || room != "" {
			t.Fatalf("no room yet = %q, %v", room, err)
		}
		for _, room := range []string{"!one:x", "!two:x"} {
			if err := s.SetNoticeRoom(ctx, "@a:x", room); err != nil {
				t.Fatal(err)
			}
		}
		if room, err := s.NoticeRoom(ctx, "@a:x"); err != nil || room != "!two:x" {
			t.Fatalf("room = %q, %v; want the latest", room, err)
		}
		txn := storage.NoticeTxn{AdminUserID: "@admin:x", DeviceID: "D", TxnID: "1"}
		if ev, err := s.NoticeTxnEvent(ctx, txn); err != nil || ev != "" {
			t.Fatalf("unknown txn = %q, %v", ev, err)
		}
		if err := s.SetNoticeTxnEvent(ctx, txn, "$first"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetNoticeTxnEvent(ctx, txn, "$second"); err != nil {
			t.Fatal(err)
		}
		if ev, err := s.NoticeTxnEvent(ctx, txn); err != nil || ev != "$first" {
			t.Fatalf("txn = %q, %v; want the first event", ev, err)
		}
		other := txn
		other.DeviceID = "E"
		if ev, err := s.NoticeTxnEvent(ctx, other); err != nil || ev != "" {
			t.Fatalf("another device's txn = %q, %v", ev, err)
		}
	})
}
