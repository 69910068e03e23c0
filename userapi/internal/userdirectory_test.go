package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// Accounts made before the directory existed are indexed on the next
// start; deactivated ones are not.
func TestUserDirectoryFilledAtStart(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		store, err := storage.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		// What an older version left: accounts and profiles, no directory.
		for _, l := range []api.Localpart{"alice", "bob"} {
			if err := store.InsertAccount(ctx, storage.AccountRow{Localpart: l, CreatedTS: 1}); err != nil {
				t.Fatal(err)
			}
		}
		err = store.SetProfileField(ctx, "alice", "displayname", []byte(`"Alice Cooper"`),
			func(map[string]json.RawMessage) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if err := store.SetDeactivated(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		u := testAPIOn(t, db)
		for term, want := range map[string]int{"cooper": 1, "alice": 1, "bob": 0} {
			res, err := u.SearchUserDirectory(ctx, api.UserDirectorySearch{SearcherID: "@x:example.org", SearchTerm: term, Limit: 10})
			if err != nil || len(res.Results) != want {
				t.Errorf("search %q: %+v, %v; want %d results", term, res, err, want)
			}
		}
		// A profile change of a deactivated account does not bring it back.
		if err := u.SetProfileField(ctx, "bob", "displayname", []byte(`"Bob"`)); err != nil {
			t.Fatal(err)
		}
		if res, _ := u.SearchUserDirectory(ctx, api.UserDirectorySearch{SearchTerm: "bob", Limit: 10}); len(res.Results) != 0 {
			t.Errorf("deactivated bob found: %+v", res)
		}
	})
}
