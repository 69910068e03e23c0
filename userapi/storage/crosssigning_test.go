package storage_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

func TestCrossSigningKeys(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if keys, err := s.CrossSigningKeys(ctx, "alice"); err != nil || len(keys) != 0 {
			t.Fatalf("keys before upload = %v, %v", keys, err)
		}
		master := storage.CrossSigningKey{Usage: api.UsageMaster, KeyID: "ed25519:M1", KeyJSON: json.RawMessage(`{"k":1}`)}
		ssk := storage.CrossSigningKey{Usage: api.UsageSelfSigning, KeyID: "ed25519:S1", KeyJSON: json.RawMessage(`{"k":2}`)}
		for _, k := range []storage.CrossSigningKey{master, ssk} {
			if err := s.SetCrossSigningKey(ctx, "alice", k); err != nil {
				t.Fatal(err)
			}
		}
		replaced := storage.CrossSigningKey{Usage: api.UsageMaster, KeyID: "ed25519:M2", KeyJSON: json.RawMessage(`{"k":3}`)}
		if err := s.SetCrossSigningKey(ctx, "alice", replaced); err != nil {
			t.Fatal(err)
		}
		keys, err := s.CrossSigningKeys(ctx, "alice")
		if err != nil || len(keys) != 2 || keys[api.UsageMaster].KeyID != "ed25519:M2" ||
			string(keys[api.UsageMaster].KeyJSON) != `{"k":3}` || keys[api.UsageSelfSigning].KeyID != "ed25519:S1" {
			t.Fatalf("keys = %+v, %v", keys, err)
		}
		if keys, err := s.CrossSigningKeys(ctx, "bob"); err != nil || len(keys) != 0 {
			t.Fatalf("bob's keys = %v, %v", keys, err)
		}
	})
}

func TestSignatures(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		const alice, bob, carol = "@alice:x", "@bob:x", "@carol:x"
		sigs := []storage.Signature{
			{TargetUser: alice, TargetKeyID: "DEV", SignerUser: alice, SignerKeyID: "ed25519:S", Signature: "s1"},
			{TargetUser: alice, TargetKeyID: "M", SignerUser: bob, SignerKeyID: "ed25519:UB", Signature: "s2"},
			{TargetUser: alice, TargetKeyID: "M", SignerUser: carol, SignerKeyID: "ed25519:UC", Signature: "s3"},
			{TargetUser: bob, TargetKeyID: "M", SignerUser: alice, SignerKeyID: "ed25519:UA", Signature: "s4"},
		}
		for _, g := range sigs {
			if changed, err := s.SetSignature(ctx, g); err != nil || !changed {
				t.Fatalf("storing %+v: %v, %v", g, changed, err)
			}
		}
		if changed, err := s.SetSignature(ctx, sigs[0]); err != nil || changed {
			t.Fatalf("storing the same signature again: changed %v, %v", changed, err)
		}
		again := sigs[0]
		again.Signature = "s1b"
		if changed, err := s.SetSignature(ctx, again); err != nil || !changed {
			t.Fatalf("replacing a signature: changed %v, %v", changed, err)
		}
		got, err := s.Signatures(ctx, alice, []string{alice, bob})
		if err != nil || len(got) != 2 || got[0] != again || got[1] != sigs[1] {
			t.Fatalf("signatures on alice's keys by alice and bob = %+v, %v", got, err)
		}
		if got, err := s.Signatures(ctx, alice, []string{"@nobody:x"}); err != nil || len(got) != 0 {
			t.Fatalf("signatures by nobody = %+v, %v", got, err)
		}
		got, err = s.SignaturesBy(ctx, alice, []string{alice, bob, carol})
		if err != nil || len(got) != 2 || got[0] != again || got[1] != sigs[3] {
			t.Fatalf("signatures by alice = %+v, %v", got, err)
		}
		if got, err := s.SignaturesBy(ctx, bob, []string{bob, carol}); err != nil || len(got) != 0 {
			t.Fatalf("signatures by bob on bob's and carol's keys = %+v, %v", got, err)
		}
	})
}
