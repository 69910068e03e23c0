package storage_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
)

func TestProfileFieldsOf(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		ok := func(map[string]json.RawMessage) error { return nil }
		for _, f := range []struct{ lp, k, v string }{
			{"alice", "displayname", `"Alice"`}, {"alice", "im.myelin.signature", `"你好"`}, {"alice", "other", `1`},
			{"bob", "avatar_url", `"mxc://x/b"`}, {"carol", "other", `2`},
		} {
			if err := s.SetProfileField(ctx, api.Localpart(f.lp), f.k, json.RawMessage(f.v), ok); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			name  string
			users []api.Localpart
			want  string
		}{
			{"some fields of several", []api.Localpart{"alice", "bob", "carol", "nobody"},
				`{"alice":{"displayname":"Alice","im.myelin.signature":"你好"},"bob":{"avatar_url":"mxc://x/b"}}`},
			{"none asked", nil, `{}`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ProfileFieldsOf(ctx, tc.users, []string{"displayname", "avatar_url", "im.myelin.signature"})
				b, _ := json.Marshal(got)
				if err != nil || string(b) != tc.want {
					t.Fatalf("ProfileFieldsOf = %s, %v; want %s", b, err, tc.want)
				}
			})
		}
	})
}
