package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// seedAccounts makes accounts with display names, one of them an admin,
// one deactivated, one locked, one suspended, and devices seen at times.
func seedAccounts(t *testing.T, s *storage.Storage) {
	t.Helper()
	ctx := context.Background()
	for i, l := range []api.Localpart{"alice", "bob", "carol", "dave", "erin", "a-b"} {
		if err := s.InsertAccount(ctx, storage.AccountRow{Localpart: l, CreatedTS: int64(100 - i), IsAdmin: l == "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	names := map[api.Localpart]string{"alice": `"Alice Smith"`, "bob": `"Bobby"`, "carol": `"Carol 50%"`, "dave": `"Dave"`}
	for l, v := range names {
		if err := s.SetProfileField(ctx, l, "displayname", []byte(v), func(map[string]json.RawMessage) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for l, ts := range map[api.Localpart]int64{"alice": 7, "bob": 9} {
		if err := s.UpsertDevice(ctx, l, "D", nil, ts, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetDeactivated(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	for l, flag := range map[api.Localpart]string{"dave": storage.FlagLocked, "erin": storage.FlagSuspended} {
		if err := s.SetAccountFlag(ctx, l, flag, true); err != nil {
			t.Fatal(err)
		}
	}
}

func names(as []api.AccountSummary) []api.Localpart {
	out := make([]api.Localpart, len(as))
	for i, a := range as {
		out[i] = a.Localpart
	}
	return out
}

func TestListAccounts(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		seedAccounts(t, s)
		yes, no := true, false
		for _, tc := range []struct {
			name  string
			q     api.AccountQuery
			want  []api.Localpart
			total int
		}{
			// "@a-b:" sorts before "@alice:" as full user IDs do.
			{"default: active and unlocked, by user ID", api.AccountQuery{Limit: 10}, []api.Localpart{"a-b", "alice", "bob", "erin"}, 4},
			{"with deactivated and locked", api.AccountQuery{Limit: 10, Deactivated: true, Locked: true},
				[]api.Localpart{"a-b", "alice", "bob", "carol", "dave", "erin"}, 6},
			{"paged", api.AccountQuery{From: 1, Limit: 2}, []api.Localpart{"alice", "bob"}, 4},
			{"admins only", api.AccountQuery{Limit: 10, Admins: &yes}, []api.Localpart{"bob"}, 1},
			{"no admins", api.AccountQuery{Limit: 10, Admins: &no}, []api.Localpart{"a-b", "alice", "erin"}, 3},
			{"suspended only", api.AccountQuery{Limit: 10, Suspended: &yes}, []api.Localpart{"erin"}, 1},
			{"name matches a display name, any case", api.AccountQuery{Limit: 10, Name: "SMITH"}, []api.Localpart{"alice"}, 1},
			{"name matches a localpart", api.AccountQuery{Limit: 10, Name: "ob"}, []api.Localpart{"bob"}, 1},
			{"LIKE characters are literal", api.AccountQuery{Limit: 10, Deactivated: true, Name: "50%"}, []api.Localpart{"carol"}, 1},
			{"user_id matches the full ID", api.AccountQuery{Limit: 10, UserID: "b:example.org", ServerName: "example.org"},
				[]api.Localpart{"a-b", "bob"}, 2},
			{"by creation, backwards", api.AccountQuery{Limit: 10, OrderBy: "creation_ts", Backwards: true},
				[]api.Localpart{"alice", "bob", "erin", "a-b"}, 4},
			{"by last seen", api.AccountQuery{Limit: 10, OrderBy: "last_seen_ts"}, []api.Localpart{"a-b", "erin", "alice", "bob"}, 4},
			{"by display name", api.AccountQuery{Limit: 10, OrderBy: "displayname"}, []api.Localpart{"a-b", "erin", "alice", "bob"}, 4},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.ListAccounts(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(names(got), tc.want) || total != tc.total {
					t.Fatalf("got %v (total %d), want %v (total %d)", names(got), total, tc.want, tc.total)
				}
			})
		}
		a, err := s.AccountSummary(ctx, "alice")
		if err != nil || a.DisplayName == nil || *a.DisplayName != "Alice Smith" || a.AvatarURL != nil ||
			a.LastSeenTS != 7 || a.CreatedTS != 100 {
			t.Fatalf("alice = %+v, %v", a, err)
		}
		if _, err := s.AccountSummary(ctx, "zed"); !errors.Is(err, api.ErrNoSuchAccount) {
			t.Fatalf("missing account: %v", err)
		}
	})
}

func TestAccountModeration(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if err := s.InsertAccount(ctx, storage.AccountRow{Localpart: "alice", PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertAccessToken(ctx, storage.TokenRow{Hash: "t1", Localpart: "alice", DeviceID: "D"}); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{storage.FlagLocked, storage.FlagSuspended, storage.FlagErased, storage.FlagAdmin} {
			if err := s.SetAccountFlag(ctx, "alice", f, true); err != nil {
				t.Fatal(err)
			}
		}
		m, err := s.AccountModeration(ctx, "alice")
		if err != nil || m != (storage.Moderation{Locked: true, Suspended: true, Erased: true}) {
			t.Fatalf("moderation = %+v, %v", m, err)
		}
		tok, err := s.AccessToken(ctx, "t1")
		if err != nil || !tok.Moderation.Locked || !tok.Moderation.Suspended {
			t.Fatalf("token = %+v, %v", tok, err)
		}
		if a, _ := s.Account(ctx, "alice"); !a.IsAdmin {
			t.Fatal("admin flag not set")
		}
		if err := s.SetAccountFlag(ctx, "alice", storage.FlagLocked, false); err != nil {
			t.Fatal(err)
		}
		if tok, _ := s.AccessToken(ctx, "t1"); tok.Moderation.Locked || !tok.Moderation.Suspended {
			t.Fatalf("after unlock: %+v", tok.Moderation)
		}
		if err := s.SetAccountFlag(ctx, "alice", "password_hash", true); err == nil {
			t.Fatal("an unknown flag was accepted")
		}
		if err := s.SetAccountFlag(ctx, "bob", storage.FlagLocked, true); !errors.Is(err, api.ErrNoSuchAccount) {
			t.Fatalf("missing account: %v", err)
		}
		if hs, err := s.LocalAccessTokens(ctx, "alice"); err != nil || !slices.Equal(hs, []string{"t1"}) {
			t.Fatalf("tokens = %v, %v", hs, err)
		}
		// Reactivation clears deactivation and erasure and sets the password.
		if err := s.SetDeactivated(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := s.Reactivate(ctx, "alice", "h2"); err != nil {
			t.Fatal(err)
		}
		a, _ := s.Account(ctx, "alice")
		m, _ = s.AccountModeration(ctx, "alice")
		if a.Deactivated || a.PasswordHash != "h2" || m.Erased {
			t.Fatalf("after reactivation: %+v %+v", a, m)
		}
	})
}

func TestRegistrationTokenAdmin(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		one, past := int64(1), int64(50)
		for i, tok := range []api.RegistrationToken{
			{Token: "open"}, {Token: "once", UsesAllowed: &one}, {Token: "old", ExpiryTS: &past},
		} {
			if err := s.AddRegistrationToken(ctx, tok, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AddRegistrationToken(ctx, api.RegistrationToken{Token: "open"}, 9); !errors.Is(err, api.ErrRegistrationTokenExists) {
			t.Fatalf("duplicate: %v", err)
		}
		if err := s.UseRegistrationToken(ctx, "once", 100); err != nil {
			t.Fatal(err)
		}
		tokens := func(valid *bool) []string {
			ts, err := s.RegistrationTokens(ctx, valid, 100)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, t := range ts {
				out = append(out, t.Token)
			}
			return out
		}
		yes, no := true, false
		if got := tokens(nil); !slices.Equal(got, []string{"open", "once", "old"}) {
			t.Fatalf("all: %v", got)
		}
		if got := tokens(&yes); !slices.Equal(got, []string{"open"}) {
			t.Fatalf("valid: %v", got)
		}
		if got := tokens(&no); !slices.Equal(got, []string{"once", "old"}) {
			t.Fatalf("invalid: %v", got)
		}
		tok, err := s.RegistrationToken(ctx, "once")
		if err != nil || tok.Completed != 1 || tok.UsesAllowed == nil || *tok.UsesAllowed != 1 || tok.ExpiryTS != nil {
			t.Fatalf("once = %+v, %v", tok, err)
		}
		three := int64(3)
		tok, err = s.UpdateRegistrationToken(ctx, "once", api.RegistrationTokenUpdate{UsesAllowed: &three, ExpiryTS: &past})
		if err != nil || *tok.UsesAllowed != 3 || *tok.ExpiryTS != 50 {
			t.Fatalf("updated = %+v, %v", tok, err)
		}
		tok, err = s.UpdateRegistrationToken(ctx, "once", api.RegistrationTokenUpdate{ClearExpiryTS: true})
		if err != nil || *tok.UsesAllowed != 3 || tok.ExpiryTS != nil {
			t.Fatalf("cleared = %+v, %v", tok, err)
		}
		if ok, _ := s.RegistrationTokenValid(ctx, "once", 100); !ok {
			t.Fatal("a token with uses left is not valid")
		}
		if _, err := s.UpdateRegistrationToken(ctx, "nope", api.RegistrationTokenUpdate{}); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("update missing: %v", err)
		}
		if err := s.DeleteRegistrationToken(ctx, "once"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RegistrationToken(ctx, "once"); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("deleted token: %v", err)
		}
		if err := s.DeleteRegistrationToken(ctx, "once"); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("delete again: %v", err)
		}
	})
}
