package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
)

func TestThreepids(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if err := s.InsertThreepid(ctx, "alice", api.MediumMSISDN, "8613800138000", 10); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertThreepid(ctx, "alice", api.MediumMSISDN, "447400123456", 20); err != nil {
			t.Fatal(err)
		}
		for _, who := range []api.Localpart{"bob", "alice"} {
			if err := s.InsertThreepid(ctx, who, api.MediumMSISDN, "8613800138000", 30); !errors.Is(err, api.ErrThreepidInUse) {
				t.Errorf("binding a held number to %s: %v, want ErrThreepidInUse", who, err)
			}
		}
		owner, err := s.ThreepidOwner(ctx, api.MediumMSISDN, "8613800138000")
		if err != nil || owner != "alice" {
			t.Fatalf("owner = %q, %v", owner, err)
		}
		if _, err := s.ThreepidOwner(ctx, api.MediumMSISDN, "12015550123"); !errors.Is(err, api.ErrThreepidNotFound) {
			t.Errorf("owner of an unbound number: %v", err)
		}
		got, err := s.Threepids(ctx, "alice")
		if err != nil || len(got) != 2 || got[0].Address != "8613800138000" || got[0].AddedTS != 10 ||
			got[0].ValidatedTS != 10 || got[1].Address != "447400123456" {
			t.Fatalf("alice's 3pids = %+v, %v", got, err)
		}
		if err := s.DeleteThreepid(ctx, "bob", api.MediumMSISDN, "8613800138000"); !errors.Is(err, api.ErrThreepidNotFound) {
			t.Errorf("bob deleting alice's number: %v", err)
		}
		if err := s.DeleteThreepid(ctx, "alice", api.MediumMSISDN, "8613800138000"); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertThreepid(ctx, "bob", api.MediumMSISDN, "8613800138000", 40); err != nil {
			t.Errorf("a released number must be free: %v", err)
		}
		if err := s.DeleteThreepids(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Threepids(ctx, "alice"); err != nil || len(got) != 0 {
			t.Errorf("after deleting all: %+v, %v", got, err)
		}
	})
}
